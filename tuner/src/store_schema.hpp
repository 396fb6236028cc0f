// The store's SQL: schema version 1 and the migrations that lead to kSchemaVersion. Private to
// store.cpp.
#pragma once

namespace qla::tuner::schema {

// Migration i (0-based) takes a store from version i + 1 to version i + 2.
inline constexpr const char* kMigrations[] = {
    // 1 → 2: the decided winners (after the paired re-measurement), so the same winner is served
    // twice.
    R"sql(
CREATE TABLE winners (
  device_id INTEGER NOT NULL REFERENCES devices(id),
  kernel TEXT NOT NULL,
  source_hash TEXT NOT NULL,
  space_hash TEXT NOT NULL,
  problem TEXT NOT NULL,
  config TEXT NOT NULL,
  config_values TEXT NOT NULL,
  median_us REAL NOT NULL,
  default_median_us REAL NOT NULL DEFAULT 0,
  run_id INTEGER REFERENCES runs(id),
  decided_at TEXT NOT NULL,
  PRIMARY KEY (device_id, kernel, source_hash, space_hash, problem)
);
UPDATE schema_version SET version = 2;
)sql",
};

}  // namespace qla::tuner::schema
