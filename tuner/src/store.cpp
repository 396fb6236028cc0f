#include "qla/tuner/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <variant>

#include "qla/error.hpp"
#include "qla/tuner/problem_json.hpp"
#include "store_columns.hpp"
#include "store_schema.hpp"

namespace qla::tuner {

const char* const kSchemaV1Sql = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1);
CREATE TABLE devices (
  id INTEGER PRIMARY KEY,
  digest TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  cc_major INTEGER NOT NULL,
  cc_minor INTEGER NOT NULL,
  sm_count INTEGER NOT NULL,
  l2_bytes INTEGER NOT NULL,
  mem_clock_khz INTEGER NOT NULL,
  mem_bus_bits INTEGER NOT NULL,
  driver_version INTEGER NOT NULL,
  runtime_version INTEGER NOT NULL,
  nvrtc_version INTEGER NOT NULL
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  uid TEXT NOT NULL UNIQUE,
  device_id INTEGER NOT NULL REFERENCES devices(id),
  args TEXT NOT NULL,
  git_commit TEXT NOT NULL,
  strategy TEXT NOT NULL,
  budget TEXT NOT NULL,
  host TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT
);
CREATE TABLE trials (
  id INTEGER PRIMARY KEY,
  device_id INTEGER NOT NULL REFERENCES devices(id),
  kernel TEXT NOT NULL,
  source_hash TEXT NOT NULL,
  space_hash TEXT NOT NULL,
  problem TEXT NOT NULL,
  h_qk INTEGER NOT NULL,
  h_v INTEGER NOT NULL,
  k_dim INTEGER NOT NULL,
  v_dim INTEGER NOT NULL,
  dtype TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  sequences INTEGER NOT NULL,
  problem_json TEXT NOT NULL,
  config TEXT NOT NULL,
  config_values TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('ok', 'invalid', 'compile_error', 'launch_error', 'crashed', 'timeout')),
  median_us REAL,
  min_us REAL,
  max_us REAL,
  samples INTEGER NOT NULL DEFAULT 0,
  noise REAL,
  kernel_times TEXT NOT NULL DEFAULT '[]',
  errors TEXT NOT NULL DEFAULT '[]',
  message TEXT NOT NULL DEFAULT '',
  registers INTEGER,
  smem_bytes INTEGER,
  spills INTEGER,
  run_id INTEGER REFERENCES runs(id),
  created_at TEXT NOT NULL,
  UNIQUE (device_id, kernel, source_hash, space_hash, problem, config)
);
CREATE INDEX trials_by_class ON trials (kernel, source_hash, space_hash, h_qk, h_v, k_dim, v_dim, dtype);
CREATE VIEW best_valid AS
  SELECT t.* FROM trials t
  WHERE t.status = 'ok' AND t.id = (
    SELECT t2.id FROM trials t2
    WHERE t2.status = 'ok' AND t2.device_id = t.device_id AND t2.kernel = t.kernel
      AND t2.source_hash = t.source_hash AND t2.space_hash = t.space_hash AND t2.problem = t.problem
    ORDER BY t2.median_us, t2.config LIMIT 1);
)sql";

namespace {

/// Binds ?1..?5 of a statement keyed by (device digest, kernel, source hash, space hash, problem
/// key).
void bind_trial_key(SQLite::Statement& q, const std::string& device_digest, const KernelIdentity& k,
                    const gdn::Problem& problem) {
  q.bind(1, device_digest);
  q.bind(2, k.kernel);
  q.bind(3, k.source_hash);
  q.bind(4, k.space_hash);
  q.bind(5, problem_key(problem));
}

constexpr int kBusyTimeoutMs = 30000;
constexpr const char* kNow = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

bool is_busy(const SQLite::Exception& e) {
  const int code = e.getErrorCode() & 0xff;
  return code == SQLITE_BUSY || code == SQLITE_LOCKED;
}

/// Runs `f` (a whole write transaction), retrying when another process holds the lock past the busy
/// timeout.
template <typename F>
auto with_retry(F&& f) {
  for (int attempt = 0;; ++attempt) {
    try {
      return f();
    } catch (const SQLite::Exception& e) {
      if (!is_busy(e) || attempt >= 20) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(10 << std::min(attempt, 6)));
    }
  }
}

/// BEGIN IMMEDIATE … COMMIT, rolled back when left by an exception. IMMEDIATE takes the write lock
/// up front so two writers never deadlock upgrading read locks.
class WriteTransaction {
 public:
  explicit WriteTransaction(SQLite::Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  ~WriteTransaction() {
    if (!done_) try {
        db_.exec("ROLLBACK");
      } catch (...) {  // nothing sensible left to do in a destructor
      }
  }
  void commit() {
    db_.exec("COMMIT");
    done_ = true;
  }

 private:
  SQLite::Database& db_;
  bool done_ = false;
};

int read_version(SQLite::Database& db) {
  if (!db.tableExists("schema_version")) return 0;
  SQLite::Statement q(db, "SELECT MAX(version) FROM schema_version");
  return q.executeStep() && !q.getColumn(0).isNull() ? q.getColumn(0).getInt() : 0;
}

int read_application_id(SQLite::Database& db) {
  SQLite::Statement q(db, "PRAGMA application_id");
  return q.executeStep() ? q.getColumn(0).getInt() : 0;
}

int count_tables(SQLite::Database& db) {
  SQLite::Statement q(db, "SELECT COUNT(*) FROM sqlite_master WHERE type IN ('table', 'view')");
  q.executeStep();
  return q.getColumn(0).getInt();
}

/// A read-only connection that creates nothing next to the store. With no -wal or -shm beside it,
/// no other connection has the store open (SQLite creates both while one does), so it is opened
/// immutable: SQLite then needs no shared-memory file, which also makes stores in read-only
/// directories readable. Otherwise it reads through the WAL the other connection maintains.
std::unique_ptr<SQLite::Database> open_reader(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path + "-wal", ec) || std::filesystem::exists(path + "-shm", ec))
    return std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY, kBusyTimeoutMs);
  std::string uri = "file:";
  for (const unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) {
      static const char* const kHex = "0123456789ABCDEF";
      uri += '%';
      uri += kHex[c >> 4];
      uri += kHex[c & 15];
    } else {
      uri += static_cast<char>(c);
    }
  }
  return std::make_unique<SQLite::Database>(
      uri + "?immutable=1", SQLite::OPEN_READONLY | SQLite::OPEN_URI, kBusyTimeoutMs);
}

/// Empty when every table a store needs exists, no row refers to a missing device or run, and every
/// trial and winner row is well formed; else what is damaged (defined with the column table below).
std::string damage(SQLite::Database& db);

/// Read-only inspection of an existing file. Throws UserError for anything that is not a qla store
/// we can use.
void check_existing(const std::string& path) {
  {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    // A zero-length file is an empty SQLite database: another process may have just created it.
    if (in && in.tellg() == 0) return;
    in.seekg(0);
    char header[16] = {};
    in.read(header, sizeof header);
    if (!in || std::string(header, 16) != std::string("SQLite format 3\0", 16))
      throw UserError("store '" + path +
                      "' is not an SQLite database; refusing to use or modify it");
  }
  try {
    // Another process may hold a write lock (schema creation, the switch to WAL, a trial's
    // transaction): wait for it as writers do, rather than mistaking a busy store for a corrupt
    // one.
    const std::unique_ptr<SQLite::Database> reader = open_reader(path);
    SQLite::Database& db = *reader;
    // One read transaction, so every check sees the same snapshot: a store another process is
    // initialising (schema and application id in one transaction) is then either empty or complete,
    // never half of each.
    db.exec("BEGIN");
    const int app = read_application_id(db);
    const int tables = count_tables(db);
    if (tables == 0 && app == 0) return;  // an empty database: safe to initialise
    if (app != kStoreApplicationId)
      throw UserError("store '" + path +
                      "' is an SQLite database of another application (application_id " +
                      std::to_string(app) + "); refusing to use or modify it");
    const int version = read_version(db);
    if (version > kSchemaVersion)
      throw UserError("store '" + path + "' has schema version " + std::to_string(version) +
                      ", newer than this qla understands (" + std::to_string(kSchemaVersion) +
                      "); use a newer qla");
    if (version < 1)
      throw UserError("store '" + path + "' has no schema version; refusing to use or modify it");
    SQLite::Statement check(db, "PRAGMA quick_check");
    if (!check.executeStep() || check.getColumn(0).getString() != "ok")
      throw UserError("store '" + path +
                      "' is corrupt (integrity check failed); refusing to use or modify it");
    if (version == kSchemaVersion) {
      if (const std::string why = damage(db); !why.empty())
        throw UserError("store '" + path + "' is damaged (" + why +
                        "); refusing to use or modify it");
    }
  } catch (const SQLite::Exception& e) {
    if (is_busy(e))
      throw UserError("store '" + path + "' stayed locked by another process for " +
                      std::to_string(kBusyTimeoutMs / 1000) + " s (" + e.what() + "); try again");
    throw UserError("store '" + path + "' is corrupt or unreadable (" + e.what() +
                    "); refusing to use it");
  }
}

void migrate(SQLite::Database& db) {
  WriteTransaction txn(db);
  // Re-read under the write lock: another process may have created or migrated the store meanwhile.
  int version = read_version(db);
  if (version == 0) {
    if (count_tables(db) != 0)
      throw UserError("store has tables but no schema version; refusing to modify it");
    db.exec(kSchemaV1Sql);
    db.exec("PRAGMA application_id = " + std::to_string(kStoreApplicationId));
    version = 1;
  }
  for (; version < kSchemaVersion; ++version) db.exec(schema::kMigrations[version - 1]);
  txn.commit();
}

std::string dump(const nlohmann::json& j) { return j.dump(); }

nlohmann::json kernel_times_json(const std::vector<KernelTime>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& k : v) a.push_back({{"name", k.name}, {"median_us", k.median_us}});
  return a;
}

nlohmann::json errors_json(const std::vector<OutputError>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& e : v)
    a.push_back({{"name", e.name},
                 {"rel_fro", e.rel_fro},
                 {"max_abs", e.max_abs},
                 {"nan_count", e.nan_count}});
  return a;
}

double number_or_nan(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

/// Copies a column of one store into a parameter of a statement on another, keeping its SQLite
/// type.
void bind_column(SQLite::Statement& s, int index, const SQLite::Column& c) {
  switch (c.getType()) {
    case SQLITE_INTEGER:
      s.bind(index, static_cast<std::int64_t>(c.getInt64()));
      break;
    case SQLITE_FLOAT:
      s.bind(index, c.getDouble());
      break;
    case SQLITE_TEXT:
      s.bind(index, c.getString());
      break;
    case SQLITE_BLOB:
      s.bind(index, c.getBlob(), c.getBytes());
      break;
    default:
      s.bind(index);
      break;
  }
}

int column_int_or(const SQLite::Column& c, int fallback) {
  return c.isNull() ? fallback : c.getInt();
}
double column_double_or(const SQLite::Column& c, double fallback) {
  return c.isNull() ? fallback : c.getDouble();
}

// ---- the trial column table (store_columns.hpp) drives every statement over trials
// ---------------------------

using schema::ColumnType;
using schema::kTrialColumnCount;
using schema::kTrialColumns;

/// A value of one cell, as SQLite stores it.
using Cell = std::variant<std::monostate, std::int64_t, double, std::string>;
using TrialCells = std::array<Cell, kTrialColumnCount>;

constexpr std::size_t col(std::string_view name) {
  const std::size_t i = schema::trial_column_index(name);
  return i < kTrialColumnCount ? i : throw "no such trial column";
}

/// "t.kernel, t.source_hash, ..." (with `prefix`), in table order.
std::string trial_column_list(const char* prefix) {
  std::string out;
  for (const auto& c : kTrialColumns)
    out += (out.empty() ? "" : ", ") + std::string(prefix) + c.name;
  return out;
}

/// The trial's cells in table order; created_at is left NULL (the insert stamps it).
TrialCells trial_cells(const TrialRecord& t) {
  const gdn::Problem& p = t.problem;
  const TrialResult& r = t.result;
  const bool timed = r.status == TrialStatus::kOk;
  auto opt_int = [](int v) { return v < 0 ? Cell{} : Cell{static_cast<std::int64_t>(v)}; };
  TrialCells c;
  c[col("kernel")] = t.kernel.kernel;
  c[col("source_hash")] = t.kernel.source_hash;
  c[col("space_hash")] = t.kernel.space_hash;
  c[col("problem")] = problem_key(p);
  c[col("h_qk")] = std::int64_t{p.h_qk};
  c[col("h_v")] = std::int64_t{p.h_v};
  c[col("k_dim")] = std::int64_t{p.k_dim};
  c[col("v_dim")] = std::int64_t{p.v_dim};
  c[col("dtype")] = std::string(dtype_name(p.qkv_dtype));
  c[col("tokens")] = static_cast<std::int64_t>(p.valid_tokens());
  c[col("sequences")] = static_cast<std::int64_t>(p.num_sequences());
  c[col("problem_json")] = dump(problem_to_json(p));
  c[col("config")] = t.config;
  c[col("config_values")] = dump(nlohmann::json(t.values));
  c[col("status")] = std::string(status_name(r.status));
  if (timed) {
    c[col("median_us")] = r.time.median_us;
    c[col("min_us")] = r.time.min_us;
    c[col("max_us")] = r.time.max_us;
    c[col("noise")] = r.time.noise;
  }
  c[col("samples")] = std::int64_t{timed ? r.time.samples : 0};
  c[col("kernel_times")] = dump(kernel_times_json(r.kernels));
  c[col("errors")] = dump(errors_json(r.errors));
  c[col("message")] = r.message;
  c[col("registers")] = opt_int(r.resources.registers);
  c[col("smem_bytes")] = opt_int(r.resources.smem_bytes);
  c[col("spills")] = opt_int(r.resources.spills);
  return c;
}

void bind_cell(SQLite::Statement& s, int index, const Cell& c) {
  if (const auto* i = std::get_if<std::int64_t>(&c))
    s.bind(index, *i);
  else if (const auto* d = std::get_if<double>(&c))
    s.bind(index, *d);
  else if (const auto* t = std::get_if<std::string>(&c))
    s.bind(index, *t);
  else
    s.bind(index);
}

/// "INSERT INTO trials (device_id, run_id, <every column>) VALUES (?, ?, ...) ON CONFLICT DO
/// NOTHING"; a NULL created_at is stamped with the insert's time.
std::string trial_insert_sql() {
  std::string values = "?, ?";
  for (std::size_t i = 0; i < kTrialColumnCount; ++i) {
    const std::string ph = "?" + std::to_string(i + 3);
    values += ", " + (std::string_view(kTrialColumns[i].name) == "created_at"
                          ? "COALESCE(" + ph + ", " + kNow + ")"
                          : ph);
  }
  return "INSERT INTO trials (device_id, run_id, " + trial_column_list("") + ") VALUES (" + values +
         ") ON CONFLICT DO NOTHING";
}

/// The JSON of one cell of `type` (NULL → null; JSON columns parsed).
nlohmann::json cell_json(const SQLite::Column& c, ColumnType type) {
  if (c.isNull()) return nullptr;
  switch (type) {
    case ColumnType::kInteger:
      return c.getInt64();
    case ColumnType::kReal:
      return c.getDouble();
    case ColumnType::kText:
      return c.getString();
    case ColumnType::kJson:
      return nlohmann::json::parse(c.getString());
  }
  return nullptr;
}

/// Empty when a trial row copied from another store is well formed (NOT NULL cells present, JSON
/// cells parse, a known status), else what is wrong.
std::string check_trial_row(SQLite::Statement& q, int first) {
  for (std::size_t i = 0; i < kTrialColumnCount; ++i) {
    const auto& spec = kTrialColumns[i];
    const SQLite::Column c = q.getColumn(first + static_cast<int>(i));
    if (c.isNull()) {
      if (!spec.nullable) return std::string("column ") + spec.name + " is NULL";
      continue;
    }
    if (spec.type == ColumnType::kJson && !nlohmann::json::accept(c.getString()))
      return std::string("column ") + spec.name + " is not valid JSON";
  }
  if (!parse_status(q.getColumn(first + static_cast<int>(col("status"))).getString()))
    return "unknown status '" + q.getColumn(first + static_cast<int>(col("status"))).getString() +
           "'";
  return {};
}

std::string damage(SQLite::Database& db) {
  for (const char* table : {"devices", "runs", "trials", "winners", "schema_version"})
    if (!db.tableExists(table)) return std::string("table ") + table + " is missing";
  {
    SQLite::Statement fk(db, "PRAGMA foreign_key_check");
    if (fk.executeStep())
      return "a row of table " + fk.getColumn(0).getString() + " refers to a missing row of " +
             fk.getColumn(2).getString();
  }
  SQLite::Statement trials(db, "SELECT " + trial_column_list("") + " FROM trials ORDER BY id");
  for (std::int64_t row = 1; trials.executeStep(); ++row)
    if (const std::string why = check_trial_row(trials, 0); !why.empty())
      return "trial row " + std::to_string(row) + ": " + why;
  SQLite::Statement winners(db, "SELECT config_values FROM winners");
  while (winners.executeStep())
    if (!nlohmann::json::accept(winners.getColumn(0).getString()))
      return "a winner's config_values is not valid JSON";
  return {};
}

/// SELECT d.digest, COALESCE(t.run_id, 0), t.<every column> ...: the columns read_trial expects.
std::string trial_select_sql() {
  return "SELECT d.digest, COALESCE(t.run_id, 0), " + trial_column_list("t.");
}

TrialRecord read_trial(SQLite::Statement& q) {
  auto at = [&q](std::string_view name) { return q.getColumn(2 + static_cast<int>(col(name))); };
  TrialRecord t;
  t.device_digest = q.getColumn(0).getString();
  t.run_id = q.getColumn(1).getInt64();
  t.kernel = {at("kernel").getString(), at("source_hash").getString(),
              at("space_hash").getString()};
  t.problem = problem_from_json(nlohmann::json::parse(at("problem_json").getString()));
  t.config = at("config").getString();
  t.values = nlohmann::json::parse(at("config_values").getString()).get<Point>();
  t.result.status = parse_status(at("status").getString()).value_or(TrialStatus::kCrashed);
  t.result.time = {column_double_or(at("median_us"), 0), column_double_or(at("min_us"), 0),
                   column_double_or(at("max_us"), 0), at("samples").getInt(),
                   column_double_or(at("noise"), 0)};
  for (const auto& k : nlohmann::json::parse(at("kernel_times").getString()))
    t.result.kernels.push_back({k.at("name").get<std::string>(), number_or_nan(k.at("median_us"))});
  for (const auto& e : nlohmann::json::parse(at("errors").getString()))
    t.result.errors.push_back({e.at("name").get<std::string>(), number_or_nan(e.at("rel_fro")),
                               number_or_nan(e.at("max_abs")),
                               e.at("nan_count").get<std::int64_t>()});
  t.result.message = at("message").getString();
  t.result.resources = {column_int_or(at("registers"), -1), column_int_or(at("smem_bytes"), -1),
                        column_int_or(at("spills"), -1)};
  t.created_at = at("created_at").getString();
  return t;
}

std::string random_uid() {
  std::random_device rd;
  std::mt19937_64 rng(
      (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::ostringstream os;
  os << std::hex << rng() << rng();
  return os.str();
}

}  // namespace

Store::Store(std::string path, std::unique_ptr<SQLite::Database> db)
    : path_(std::move(path)), db_(std::move(db)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

Store Store::open(const std::string& path, Mode mode) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (exists && fs::is_directory(path, ec)) throw UserError("store '" + path + "' is a directory");
  // Anything but a regular file (a FIFO would block SQLite's open forever) is not a store.
  if (exists && !fs::is_regular_file(path, ec))
    throw UserError("store '" + path + "' is not a regular file");
  const bool empty = exists && fs::file_size(path, ec) == 0;
  if (mode != Mode::kReadWrite) {
    if (!exists) throw UserError("store '" + path + "' does not exist");
    if (empty) throw UserError("store '" + path + "' is an empty file, not a qla store");
  }
  if (exists && !empty) check_existing(path);
  if (mode == Mode::kReadOnly) {
    try {
      auto db = open_reader(path);
      if (read_version(*db) != kSchemaVersion)
        throw UserError("store '" + path + "' has schema version " +
                        std::to_string(read_version(*db)) +
                        "; open it for writing once (e.g. `qla tune`) to migrate it to version " +
                        std::to_string(kSchemaVersion));
      return Store(path, std::move(db));
    } catch (const SQLite::Exception& e) {
      throw UserError("store '" + path + "' cannot be read: " + e.what());
    }
  }
  if (!exists) {
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
  }
  try {
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                                                 kBusyTimeoutMs);
    with_retry([&] { db->exec("PRAGMA journal_mode = WAL"); });
    db->exec("PRAGMA foreign_keys = ON");
    db->exec("PRAGMA synchronous = NORMAL");
    if (read_version(*db) < kSchemaVersion) with_retry([&] { migrate(*db); });
    return Store(path, std::move(db));
  } catch (const SQLite::Exception& e) {
    throw UserError("store '" + path + "' cannot be opened for writing: " + e.what());
  }
}

int Store::schema_version() const { return read_version(*db_); }

std::optional<std::int64_t> Store::device_id(const DeviceFingerprint& fp) const {
  SQLite::Statement q(*db_, "SELECT id FROM devices WHERE digest = ?");
  q.bind(1, fp.digest());
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

std::int64_t Store::ensure_device(const DeviceFingerprint& fp) {
  if (auto id = device_id(fp)) return *id;
  return with_retry([&] {
    WriteTransaction txn(*db_);
    SQLite::Statement ins(
        *db_,
        "INSERT INTO devices (digest, name, cc_major, cc_minor, sm_count, l2_bytes, mem_clock_khz, "
        "mem_bus_bits, driver_version, runtime_version, nvrtc_version) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING");
    ins.bind(1, fp.digest());
    ins.bind(2, fp.name);
    ins.bind(3, fp.cc_major);
    ins.bind(4, fp.cc_minor);
    ins.bind(5, fp.sm_count);
    ins.bind(6, static_cast<std::int64_t>(fp.l2_bytes));
    ins.bind(7, fp.mem_clock_khz);
    ins.bind(8, fp.mem_bus_bits);
    ins.bind(9, fp.driver_version);
    ins.bind(10, fp.runtime_version);
    ins.bind(11, fp.nvrtc_version);
    ins.exec();
    txn.commit();
    return *device_id(fp);
  });
}

std::int64_t Store::begin_run(const DeviceFingerprint& fp, const RunInfo& run) {
  const std::int64_t dev = ensure_device(fp);
  return with_retry([&] {
    WriteTransaction txn(*db_);
    SQLite::Statement ins(
        *db_, std::string("INSERT INTO runs (uid, device_id, args, git_commit, strategy, budget, "
                          "host, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ") +
                  kNow + ")");
    ins.bind(1, random_uid());
    ins.bind(2, static_cast<std::int64_t>(dev));
    ins.bind(3, run.args);
    ins.bind(4, run.git_commit);
    ins.bind(5, run.strategy);
    ins.bind(6, run.budget);
    ins.bind(7, run.host);
    ins.exec();
    const std::int64_t id = db_->getLastInsertRowid();
    txn.commit();
    return id;
  });
}

void Store::end_run(std::int64_t run_id) {
  with_retry([&] {
    WriteTransaction txn(*db_);
    SQLite::Statement up(*db_, std::string("UPDATE runs SET ended_at = ") + kNow + " WHERE id = ?");
    up.bind(1, static_cast<std::int64_t>(run_id));
    up.exec();
    txn.commit();
  });
}

std::optional<std::string> Store::first_trial_at(const DeviceFingerprint& fp,
                                                 const KernelIdentity& k,
                                                 const gdn::Problem& problem) const {
  SQLite::Statement q(
      *db_,
      "SELECT MIN(t.created_at) FROM trials t JOIN devices d ON d.id = t.device_id WHERE d.digest "
      "= ? "
      "AND t.kernel = ? AND t.source_hash = ? AND t.space_hash = ? AND t.problem = ?");
  bind_trial_key(q, fp.digest(), k, problem);
  if (!q.executeStep() || q.getColumn(0).isNull()) return std::nullopt;
  return q.getColumn(0).getString();
}

std::optional<TrialRecord> Store::find_trial(const DeviceFingerprint& fp, const KernelIdentity& k,
                                             const gdn::Problem& problem,
                                             const std::string& config) const {
  SQLite::Statement q(
      *db_, trial_select_sql() +
                " FROM trials t JOIN devices d ON d.id = t.device_id WHERE d.digest = ? AND "
                "t.kernel = ? AND t.source_hash = ? AND t.space_hash = ? AND t.problem = ? AND "
                "t.config = ?");
  bind_trial_key(q, fp.digest(), k, problem);
  q.bind(6, config);
  if (!q.executeStep()) return std::nullopt;
  return read_trial(q);
}

bool Store::put_trial(const DeviceFingerprint& fp, const TrialRecord& t) {
  const std::int64_t dev = ensure_device(fp);
  const TrialCells cells = trial_cells(t);
  return with_retry([&] {
    WriteTransaction txn(*db_);
    SQLite::Statement ins(*db_, trial_insert_sql());
    ins.bind(1, static_cast<std::int64_t>(dev));
    if (t.run_id > 0) ins.bind(2, static_cast<std::int64_t>(t.run_id));
    for (std::size_t i = 0; i < kTrialColumnCount; ++i)
      bind_cell(ins, static_cast<int>(i) + 3, cells[i]);
    const bool inserted = ins.exec() > 0;
    txn.commit();
    return inserted;
  });
}

std::vector<TrialRecord> Store::trials(const DeviceFingerprint& fp, const KernelIdentity& k,
                                       const gdn::Problem& problem) const {
  return trials(fp.digest(), k, problem);
}

std::vector<TrialRecord> Store::trials(const std::string& device_digest, const KernelIdentity& k,
                                       const gdn::Problem& problem) const {
  SQLite::Statement q(
      *db_, trial_select_sql() +
                " FROM trials t JOIN devices d ON d.id = t.device_id WHERE d.digest = ? AND "
                "t.kernel = ? AND t.source_hash = ? AND t.space_hash = ? AND t.problem = ? "
                "ORDER BY t.config");
  bind_trial_key(q, device_digest, k, problem);
  std::vector<TrialRecord> out;
  while (q.executeStep()) out.push_back(read_trial(q));
  return out;
}

void Store::put_winner(const DeviceFingerprint& fp, const KernelIdentity& k,
                       const gdn::Problem& problem, const Winner& w, std::int64_t run_id) {
  const std::int64_t dev = ensure_device(fp);
  with_retry([&] {
    WriteTransaction txn(*db_);
    SQLite::Statement ins(
        *db_, std::string("INSERT OR REPLACE INTO winners (device_id, kernel, source_hash, "
                          "space_hash, problem, config, config_values, median_us, "
                          "default_median_us, run_id, decided_at) VALUES "
                          "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ") +
                  kNow + ")");
    ins.bind(1, static_cast<std::int64_t>(dev));
    ins.bind(2, k.kernel);
    ins.bind(3, k.source_hash);
    ins.bind(4, k.space_hash);
    ins.bind(5, problem_key(problem));
    ins.bind(6, w.config);
    ins.bind(7, dump(nlohmann::json(w.values)));
    ins.bind(8, w.median_us);
    ins.bind(9, w.default_median_us);
    if (run_id > 0) ins.bind(10, static_cast<std::int64_t>(run_id));
    ins.exec();
    txn.commit();
  });
}

std::optional<Winner> Store::winner(const DeviceFingerprint& fp, const KernelIdentity& k,
                                    const gdn::Problem& problem) const {
  SQLite::Statement q(
      *db_,
      "SELECT w.config, w.config_values, w.median_us, w.default_median_us FROM winners w "
      "JOIN devices d ON d.id = w.device_id WHERE d.digest = ? AND w.kernel = ? AND "
      "w.source_hash = ? AND w.space_hash = ? AND w.problem = ?");
  bind_trial_key(q, fp.digest(), k, problem);
  if (!q.executeStep()) return std::nullopt;
  return Winner{q.getColumn(0).getString(),
                nlohmann::json::parse(q.getColumn(1).getString()).get<Point>(),
                q.getColumn(2).getDouble(), q.getColumn(3).getDouble()};
}

std::vector<TunedEntry> Store::tuned_entries(const KernelIdentity& k) const {
  SQLite::Statement q(
      *db_,
      "SELECT d.digest, d.name, d.cc_major, d.cc_minor, b.problem, b.problem_json, "
      "COALESCE(w.config, b.config), COALESCE(w.config_values, b.config_values), "
      "COALESCE(w.median_us, b.median_us), w.config IS NOT NULL, "
      "(SELECT MAX(t.created_at) FROM trials t WHERE t.device_id = b.device_id AND "
      "  t.kernel = b.kernel AND t.source_hash = b.source_hash AND t.space_hash = b.space_hash AND "
      "  t.problem = b.problem) "
      "FROM best_valid b JOIN devices d ON d.id = b.device_id "
      "LEFT JOIN winners w ON w.device_id = b.device_id AND w.kernel = b.kernel AND "
      "  w.source_hash = b.source_hash AND w.space_hash = b.space_hash AND w.problem = b.problem "
      "WHERE b.kernel = ? AND b.source_hash = ? AND b.space_hash = ? "
      "ORDER BY d.digest, b.problem");
  q.bind(1, k.kernel);
  q.bind(2, k.source_hash);
  q.bind(3, k.space_hash);
  std::vector<TunedEntry> out;
  while (q.executeStep()) {
    TunedEntry e;
    e.device_digest = q.getColumn(0).getString();
    e.device_name = q.getColumn(1).getString();
    e.cc_major = q.getColumn(2).getInt();
    e.cc_minor = q.getColumn(3).getInt();
    e.problem = q.getColumn(4).getString();
    e.problem_value = problem_from_json(nlohmann::json::parse(q.getColumn(5).getString()));
    e.config = q.getColumn(6).getString();
    e.values = nlohmann::json::parse(q.getColumn(7).getString()).get<Point>();
    e.median_us = q.getColumn(8).getDouble();
    e.decided = q.getColumn(9).getInt() != 0;
    e.last_trial_at = q.getColumn(10).getString();
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Winner> Store::earlier_winners(const DeviceFingerprint& fp, const KernelIdentity& k,
                                           const gdn::Problem& problem,
                                           const std::optional<std::string>& decided_by) const {
  SQLite::Statement q(*db_,
                      "SELECT w.config, w.config_values, w.median_us, w.default_median_us "
                      "FROM winners w JOIN devices d ON d.id = w.device_id "
                      "WHERE d.digest = ? AND w.kernel = ? AND w.problem = ? AND "
                      "NOT (w.source_hash = ? AND w.space_hash = ?) AND "
                      "(? IS NULL OR w.decided_at <= ?) "
                      "ORDER BY w.decided_at DESC, w.source_hash, w.space_hash");
  q.bind(1, fp.digest());
  q.bind(2, k.kernel);
  q.bind(3, problem_key(problem));
  q.bind(4, k.source_hash);
  q.bind(5, k.space_hash);
  if (decided_by) {
    q.bind(6, *decided_by);
    q.bind(7, *decided_by);
  }
  std::vector<Winner> out;
  while (q.executeStep()) {
    Winner w;
    w.config = q.getColumn(0).getString();
    w.values = nlohmann::json::parse(q.getColumn(1).getString()).get<Point>();
    w.median_us = q.getColumn(2).getDouble();
    w.default_median_us = q.getColumn(3).getDouble();
    out.push_back(std::move(w));
  }
  return out;
}

nlohmann::json Store::export_json() const {
  nlohmann::json out;
  out["schema_version"] = schema_version();
  nlohmann::json devices = nlohmann::json::array();
  {
    SQLite::Statement q(
        *db_,
        "SELECT digest, name, cc_major, cc_minor, sm_count, l2_bytes, mem_clock_khz, mem_bus_bits, "
        "driver_version, runtime_version, nvrtc_version FROM devices ORDER BY digest");
    while (q.executeStep())
      devices.push_back({{"digest", q.getColumn(0).getString()},
                         {"name", q.getColumn(1).getString()},
                         {"cc_major", q.getColumn(2).getInt()},
                         {"cc_minor", q.getColumn(3).getInt()},
                         {"sm_count", q.getColumn(4).getInt()},
                         {"l2_bytes", q.getColumn(5).getInt64()},
                         {"mem_clock_khz", q.getColumn(6).getInt()},
                         {"mem_bus_bits", q.getColumn(7).getInt()},
                         {"driver_version", q.getColumn(8).getInt()},
                         {"runtime_version", q.getColumn(9).getInt()},
                         {"nvrtc_version", q.getColumn(10).getInt()}});
  }
  out["devices"] = devices;
  nlohmann::json runs = nlohmann::json::array();
  {
    SQLite::Statement q(
        *db_,
        "SELECT r.uid, d.digest, r.args, r.git_commit, r.strategy, r.budget, r.host, r.started_at, "
        "COALESCE(r.ended_at, '') FROM runs r JOIN devices d ON d.id = r.device_id "
        "ORDER BY r.started_at, r.uid");
    while (q.executeStep())
      runs.push_back({{"uid", q.getColumn(0).getString()},
                      {"device", q.getColumn(1).getString()},
                      {"args", q.getColumn(2).getString()},
                      {"git_commit", q.getColumn(3).getString()},
                      {"strategy", q.getColumn(4).getString()},
                      {"budget", q.getColumn(5).getString()},
                      {"host", q.getColumn(6).getString()},
                      {"started_at", q.getColumn(7).getString()},
                      {"ended_at", q.getColumn(8).getString()}});
  }
  out["runs"] = runs;
  nlohmann::json trials = nlohmann::json::array();
  {
    SQLite::Statement q(
        *db_, "SELECT d.digest, COALESCE(r.uid, ''), " + trial_column_list("t.") +
                  " FROM trials t JOIN devices d ON d.id = t.device_id "
                  "LEFT JOIN runs r ON r.id = t.run_id "
                  "ORDER BY d.digest, t.kernel, t.source_hash, t.space_hash, t.problem, t.config");
    while (q.executeStep()) {
      nlohmann::json row = {{"device", q.getColumn(0).getString()},
                            {"run", q.getColumn(1).getString()}};
      for (std::size_t i = 0; i < kTrialColumnCount; ++i)
        if (kTrialColumns[i].exported)
          row[kTrialColumns[i].name] =
              cell_json(q.getColumn(2 + static_cast<int>(i)), kTrialColumns[i].type);
      trials.push_back(std::move(row));
    }
  }
  out["trials"] = trials;
  nlohmann::json winners = nlohmann::json::array();
  {
    SQLite::Statement q(
        *db_,
        "SELECT d.digest, w.kernel, w.source_hash, w.space_hash, w.problem, w.config, "
        "w.config_values, w.median_us, w.default_median_us, COALESCE(r.uid, ''), w.decided_at "
        "FROM winners w JOIN devices d ON d.id = w.device_id LEFT JOIN runs r ON r.id = w.run_id "
        "ORDER BY d.digest, w.kernel, w.source_hash, w.space_hash, w.problem");
    while (q.executeStep())
      winners.push_back({{"device", q.getColumn(0).getString()},
                         {"kernel", q.getColumn(1).getString()},
                         {"source_hash", q.getColumn(2).getString()},
                         {"space_hash", q.getColumn(3).getString()},
                         {"problem", q.getColumn(4).getString()},
                         {"config", q.getColumn(5).getString()},
                         {"config_values", nlohmann::json::parse(q.getColumn(6).getString())},
                         {"median_us", q.getColumn(7).getDouble()},
                         {"default_median_us", q.getColumn(8).getDouble()},
                         {"run", q.getColumn(9).getString()},
                         {"decided_at", q.getColumn(10).getString()}});
  }
  out["winners"] = winners;
  return out;
}

std::string Store::export_text() const {
  const nlohmann::json j = export_json();
  std::string out = "{\n";
  bool first_key = true;
  for (const auto& [key, value] : j.items()) {
    out += first_key ? "" : ",\n";
    first_key = false;
    out += nlohmann::json(key).dump() + ": ";
    if (!value.is_array() || value.empty()) {
      out += value.dump();
      continue;
    }
    out += "[\n";
    for (std::size_t i = 0; i < value.size(); ++i)
      out += value[i].dump() + (i + 1 < value.size() ? ",\n" : "\n");
    out += "]";
  }
  return out + "\n}\n";
}

std::string Store::summary() const {
  std::ostringstream os;
  os << "store " << path_ << " (schema " << schema_version() << ")\n";
  SQLite::Statement devs(
      *db_, "SELECT id, digest, name, cc_major, cc_minor FROM devices ORDER BY digest");
  bool any = false;
  while (devs.executeStep()) {
    any = true;
    const std::int64_t id = devs.getColumn(0).getInt64();
    os << "device " << devs.getColumn(2).getString() << " (sm_" << devs.getColumn(3).getInt()
       << devs.getColumn(4).getInt() << ", " << devs.getColumn(1).getString() << ")\n";
    SQLite::Statement by_status(
        *db_,
        "SELECT status, COUNT(*) FROM trials WHERE device_id = ? GROUP BY status ORDER BY status");
    by_status.bind(1, id);
    os << "  trials:";
    while (by_status.executeStep())
      os << ' ' << by_status.getColumn(0).getString() << '=' << by_status.getColumn(1).getInt64();
    os << '\n';
    SQLite::Statement kernels(
        *db_,
        "SELECT kernel, COUNT(DISTINCT problem), COUNT(*) FROM trials WHERE device_id = ? "
        "GROUP BY kernel ORDER BY kernel");
    kernels.bind(1, id);
    while (kernels.executeStep())
      os << "  kernel " << kernels.getColumn(0).getString() << ": "
         << kernels.getColumn(1).getInt64() << " problems, " << kernels.getColumn(2).getInt64()
         << " trials\n";
    SQLite::Statement counts(*db_,
                             "SELECT (SELECT COUNT(*) FROM winners WHERE device_id = ?1), "
                             "(SELECT COUNT(*) FROM runs WHERE device_id = ?1)");
    counts.bind(1, id);
    counts.executeStep();
    os << "  winners: " << counts.getColumn(0).getInt64()
       << ", runs: " << counts.getColumn(1).getInt64() << '\n';
  }
  if (!any) os << "(empty)\n";
  return os.str();
}

std::vector<DeviceFingerprint> Store::devices() const {
  std::vector<DeviceFingerprint> out;
  with_retry([&] {
    out.clear();
    SQLite::Statement q(
        *db_,
        "SELECT name, cc_major, cc_minor, sm_count, l2_bytes, mem_clock_khz, mem_bus_bits, "
        "driver_version, runtime_version, nvrtc_version FROM devices ORDER BY digest");
    while (q.executeStep()) {
      DeviceFingerprint d;
      d.name = q.getColumn(0).getString();
      d.cc_major = q.getColumn(1).getInt();
      d.cc_minor = q.getColumn(2).getInt();
      d.sm_count = q.getColumn(3).getInt();
      d.l2_bytes = q.getColumn(4).getInt64();
      d.mem_clock_khz = q.getColumn(5).getInt();
      d.mem_bus_bits = q.getColumn(6).getInt();
      d.driver_version = q.getColumn(7).getInt();
      d.runtime_version = q.getColumn(8).getInt();
      d.nvrtc_version = q.getColumn(9).getInt();
      out.push_back(std::move(d));
    }
    return 0;
  });
  return out;
}

PruneStats Store::prune(const std::vector<KernelIdentity>& current, bool dry_run) {
  PruneStats st;
  with_retry([&] {
    st = {};
    WriteTransaction txn(*db_);
    db_->exec(
        "CREATE TEMP TABLE IF NOT EXISTS prune_keep (kernel TEXT, source_hash TEXT, space_hash "
        "TEXT)");
    db_->exec("DELETE FROM temp.prune_keep");
    SQLite::Statement keep(*db_, "INSERT INTO temp.prune_keep VALUES (?, ?, ?)");
    for (const KernelIdentity& k : current) {
      keep.reset();
      keep.bind(1, k.kernel);
      keep.bind(2, k.source_hash);
      keep.bind(3, k.space_hash);
      keep.exec();
    }
    // A trial stays when its kernel identity is current or a winner names it.
    constexpr const char* kDoomed =
        "NOT EXISTS (SELECT 1 FROM temp.prune_keep c WHERE c.kernel = t.kernel AND c.source_hash = "
        "t.source_hash "
        "AND c.space_hash = t.space_hash) AND NOT EXISTS (SELECT 1 FROM winners w WHERE "
        "w.device_id = t.device_id "
        "AND w.kernel = t.kernel AND w.source_hash = t.source_hash AND w.space_hash = t.space_hash "
        "AND "
        "w.problem = t.problem AND w.config = t.config)";
    st.trials_removed =
        db_->execAndGet(std::string("SELECT COUNT(*) FROM trials t WHERE ") + kDoomed).getInt64();
    st.trials_kept = db_->execAndGet("SELECT COUNT(*) FROM trials").getInt64() - st.trials_removed;
    {  // scoped: a statement left open would lock the temp table against its DROP below
      SQLite::Statement newest(*db_,
                               "SELECT r.id, r.git_commit FROM runs r WHERE r.id = (SELECT "
                               "MAX(run_id) FROM trials WHERE run_id IS NOT NULL)");
      if (newest.executeStep()) {
        const std::int64_t run = newest.getColumn(0).getInt64();
        st.newest_run_commit = newest.getColumn(1).getString();
        newest.reset();
        st.newest_run_removed =
            db_->execAndGet(std::string("SELECT COUNT(*) FROM trials t WHERE t.run_id = ") +
                            std::to_string(run) + " AND " + kDoomed)
                .getInt64();
      }
    }
    st.winners_kept = db_->execAndGet("SELECT COUNT(*) FROM winners").getInt64();
    db_->exec(std::string("DELETE FROM trials AS t WHERE ") + kDoomed);
    st.runs_removed = db_->exec(
        "DELETE FROM runs WHERE id NOT IN (SELECT run_id FROM trials WHERE run_id IS NOT NULL) AND "
        "id NOT IN (SELECT run_id FROM winners WHERE run_id IS NOT NULL)");
    st.devices_removed = db_->exec(
        "DELETE FROM devices WHERE id NOT IN (SELECT device_id FROM trials) AND "
        "id NOT IN (SELECT device_id FROM winners) AND id NOT IN (SELECT device_id FROM runs)");
    db_->exec("DROP TABLE temp.prune_keep");
    if (dry_run) return 0;  // the transaction rolls back
    txn.commit();
    return 0;
  });
  if (!dry_run && st.trials_removed + st.runs_removed + st.devices_removed > 0) {
    // VACUUM cannot run inside a transaction; it rewrites the file without the freed pages.
    with_retry([&] {
      db_->exec("VACUUM");
      return 0;
    });
  }
  return st;
}

MergeStats Store::merge_from(const Store& other) {
  MergeStats st;
  with_retry([&] {
    st = {};
    WriteTransaction txn(*db_);
    std::map<std::int64_t, std::int64_t> device_map, run_map;
    SQLite::Statement devs(
        *other.db_,
        "SELECT id, digest, name, cc_major, cc_minor, sm_count, l2_bytes, mem_clock_khz, "
        "mem_bus_bits, driver_version, runtime_version, nvrtc_version FROM devices");
    while (devs.executeStep()) {
      SQLite::Statement ins(
          *db_,
          "INSERT INTO devices (digest, name, cc_major, cc_minor, sm_count, l2_bytes, "
          "mem_clock_khz, mem_bus_bits, driver_version, runtime_version, nvrtc_version) VALUES "
          "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING");
      for (int c = 1; c <= 11; ++c) bind_column(ins, c, devs.getColumn(c));
      st.devices_added += ins.exec();
      SQLite::Statement id(*db_, "SELECT id FROM devices WHERE digest = ?");
      id.bind(1, devs.getColumn(1).getString());
      id.executeStep();
      device_map[devs.getColumn(0).getInt64()] = id.getColumn(0).getInt64();
    }
    SQLite::Statement runs(
        *other.db_,
        "SELECT id, uid, device_id, args, git_commit, strategy, budget, host, started_at, ended_at "
        "FROM runs");
    while (runs.executeStep()) {
      SQLite::Statement ins(
          *db_,
          "INSERT INTO runs (uid, device_id, args, git_commit, strategy, budget, host, started_at, "
          "ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uid) DO NOTHING");
      bind_column(ins, 1, runs.getColumn(1));
      ins.bind(2, device_map.at(runs.getColumn(2).getInt64()));
      for (int c = 3; c <= 9; ++c) bind_column(ins, c, runs.getColumn(c));
      st.runs_added += ins.exec();
      SQLite::Statement id(*db_, "SELECT id FROM runs WHERE uid = ?");
      id.bind(1, runs.getColumn(1).getString());
      id.executeStep();
      run_map[runs.getColumn(0).getInt64()] = id.getColumn(0).getInt64();
    }
    SQLite::Statement trials(*other.db_,
                             "SELECT device_id, run_id, " + trial_column_list("") + " FROM trials");
    SQLite::Statement ins(*db_, trial_insert_sql());
    while (trials.executeStep()) {
      if (const std::string why = check_trial_row(trials, 2); !why.empty())
        throw UserError("store '" + other.path_ + "': trial row " +
                        std::to_string(st.trials_added + st.trials_skipped + 1) + " is damaged (" +
                        why + "); nothing was merged");
      ins.reset();
      ins.clearBindings();
      ins.bind(1, device_map.at(trials.getColumn(0).getInt64()));
      if (!trials.getColumn(1).isNull()) ins.bind(2, run_map.at(trials.getColumn(1).getInt64()));
      for (std::size_t c = 0; c < kTrialColumnCount; ++c)
        bind_column(ins, static_cast<int>(c) + 3, trials.getColumn(static_cast<int>(c) + 2));
      if (ins.exec() > 0)
        ++st.trials_added;
      else
        ++st.trials_skipped;
    }
    SQLite::Statement winners(
        *other.db_,
        "SELECT device_id, run_id, kernel, source_hash, space_hash, problem, config, "
        "config_values, median_us, default_median_us, decided_at FROM winners");
    while (winners.executeStep()) {
      // A winner decided here is kept: it was re-measured on this machine's own terms.
      SQLite::Statement win(*db_,
                            "INSERT INTO winners (device_id, run_id, kernel, source_hash, "
                            "space_hash, problem, config, "
                            "config_values, median_us, default_median_us, decided_at) VALUES "
                            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
      win.bind(1, device_map.at(winners.getColumn(0).getInt64()));
      if (!winners.getColumn(1).isNull()) win.bind(2, run_map.at(winners.getColumn(1).getInt64()));
      for (int c = 2; c < 11; ++c) bind_column(win, c + 1, winners.getColumn(c));
      st.winners_added += win.exec();
    }
    txn.commit();
    return 0;
  });
  return st;
}

}  // namespace qla::tuner
