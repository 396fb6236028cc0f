// The trials table's columns after its keys (id, device_id, run_id): the one list that the insert,
// the reads, the JSON export and the merge are generated from, with each column's SQL type and
// whether the export carries it (the problem's class columns are an index over problem_json, which
// the export already holds). Private to the store.
#pragma once

#include <cstddef>
#include <string_view>

namespace qla::tuner::schema {

enum class ColumnType { kInteger, kReal, kText, kJson };

struct TrialColumn {
  const char* name;
  ColumnType type;
  bool nullable;  ///< NULL allowed (an untimed trial has no times; a failed compile no resources)
  bool exported;  ///< written by `qla db export`
};

inline constexpr TrialColumn kTrialColumns[] = {
    {"kernel", ColumnType::kText, false, true},
    {"source_hash", ColumnType::kText, false, true},
    {"space_hash", ColumnType::kText, false, true},
    {"problem", ColumnType::kText, false, true},
    {"h_qk", ColumnType::kInteger, false, false},
    {"h_v", ColumnType::kInteger, false, false},
    {"k_dim", ColumnType::kInteger, false, false},
    {"v_dim", ColumnType::kInteger, false, false},
    {"dtype", ColumnType::kText, false, false},
    {"tokens", ColumnType::kInteger, false, false},
    {"sequences", ColumnType::kInteger, false, false},
    {"problem_json", ColumnType::kJson, false, true},
    {"config", ColumnType::kText, false, true},
    {"config_values", ColumnType::kJson, false, true},
    {"status", ColumnType::kText, false, true},
    {"median_us", ColumnType::kReal, true, true},
    {"min_us", ColumnType::kReal, true, true},
    {"max_us", ColumnType::kReal, true, true},
    {"samples", ColumnType::kInteger, false, true},
    {"noise", ColumnType::kReal, true, true},
    {"kernel_times", ColumnType::kJson, false, true},
    {"errors", ColumnType::kJson, false, true},
    {"message", ColumnType::kText, false, true},
    {"registers", ColumnType::kInteger, true, true},
    {"smem_bytes", ColumnType::kInteger, true, true},
    {"spills", ColumnType::kInteger, true, true},
    {"created_at", ColumnType::kText, false, true},
};

inline constexpr std::size_t kTrialColumnCount = sizeof(kTrialColumns) / sizeof(kTrialColumns[0]);

/// Index of column `name` in kTrialColumns; kTrialColumnCount when there is none (a compile error
/// where used in a constant expression through trial_column).
constexpr std::size_t trial_column_index(std::string_view name) {
  for (std::size_t i = 0; i < kTrialColumnCount; ++i)
    if (name == kTrialColumns[i].name) return i;
  return kTrialColumnCount;
}

}  // namespace qla::tuner::schema
