// The tuning store: one SQLite file holding every trial, the devices they ran on, the runs that
// produced them and the chosen winners. RAII over SQLiteCpp; parametrised statements only; WAL; one
// transaction per trial; schema version with migrations.
//
// Safety: an existing file is first opened read-only and checked (SQLite header, application id,
// known tables, schema version, integrity); a file that is not SQLite, belongs to something else,
// is corrupt or has a newer schema is refused with a UserError and never modified.
//
// Concurrency: several processes may write one store at once (e.g. two `qla tune` on two GPUs):
// writes take BEGIN IMMEDIATE under a busy timeout and retry on SQLITE_BUSY; trials are keyed so a
// trial measured twice is kept once (the first one committed).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"
#include "qla/tuner/fingerprint.hpp"
#include "qla/tuner/trial.hpp"

namespace SQLite {
class Database;
}

namespace qla::tuner {

/// Current schema version; files with a higher one are refused, lower ones are migrated on a
/// writable open.
inline constexpr int kSchemaVersion = 2;
/// PRAGMA application_id of qla stores ("QLA1").
inline constexpr std::int32_t kStoreApplicationId = 0x514C4131;

/// What identifies a kernel's code and space: trials are only comparable when both match.
struct KernelIdentity {
  std::string kernel;  ///< SpaceDecl::kernel, e.g. "gdn.fused_fwd"
  std::string
      source_hash;  ///< hex hash of the kernel's device source (changes whenever the code does)
  std::string space_hash;  ///< hex of SpaceDecl::hash()
};

/// Everything the store keeps about one trial.
struct TrialRecord {
  KernelIdentity kernel;
  gdn::Problem problem;
  std::string config;  ///< SpaceDecl::label of the point
  Point values;        ///< the point's values (axis order)
  TrialResult result;
  std::int64_t run_id = 0;    ///< 0 when not part of a run
  std::string created_at;     ///< ISO-8601 UTC, filled by the store on insert
  std::string device_digest;  ///< filled on read
};

/// One `qla tune` invocation.
struct RunInfo {
  std::string args;        ///< the command line, space-joined
  std::string git_commit;  ///< of the qla build, "" when unknown
  std::string strategy;
  std::string budget;
  std::string host;
};

/// The chosen config of (device, kernel identity, problem) after the paired re-measurement.
struct Winner {
  std::string config;
  Point values;
  double median_us = 0;
  double default_median_us =
      0;  ///< the default config's median in the same re-measurement, 0 when not measured
};

/// A tuned entry the lookup can use: the best for a problem on a device (winner if decided, else
/// best trial).
struct TunedEntry {
  std::string device_digest;
  std::string device_name;
  int cc_major = 0;
  int cc_minor = 0;
  std::string problem;  ///< problem key
  gdn::Problem problem_value;
  std::string config;
  Point values;
  double median_us = 0;
  bool decided = false;  ///< from the winners table (re-measured) rather than the best single trial
  std::string
      last_trial_at;  ///< created_at of the problem's newest trial of this kernel on that device
};

/// Counts `qla db merge` reports.
struct MergeStats {
  std::int64_t devices_added = 0;
  std::int64_t runs_added = 0;
  std::int64_t trials_added = 0;
  std::int64_t trials_skipped = 0;  ///< already present (same key)
  std::int64_t winners_added = 0;
};

/// Counts `qla db prune` reports.
struct PruneStats {
  std::int64_t trials_kept = 0;
  std::int64_t trials_removed = 0;
  std::int64_t runs_removed = 0;
  std::int64_t devices_removed = 0;
  std::int64_t winners_kept = 0;
  /// Of trials_removed, those the store's newest run wrote (the run with the highest id that owns a
  /// trial), and that run's git commit: a build whose sources differ from the one that tuned last
  /// would delete the fresh trials a resume needs.
  std::int64_t newest_run_removed = 0;
  std::string newest_run_commit;
};

class Store {
 public:
  /// kReadOnly: an existing store, never written (no sidecar files either). kReadWrite: created if
  /// missing or empty, migrated if older. kUpdate: read-write, but the store must already exist.
  enum class Mode { kReadOnly, kReadWrite, kUpdate };

  /// Opens `path` in `mode` or refuses it with a UserError: not a regular file (a directory, a
  /// FIFO, a device), empty where a store must exist, damaged, or of a newer schema.
  static Store open(const std::string& path, Mode mode);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  const std::string& path() const { return path_; }
  int schema_version() const;

  /// Row id of the device, inserting it when new.
  std::int64_t ensure_device(const DeviceFingerprint& fp);
  std::int64_t begin_run(const DeviceFingerprint& fp, const RunInfo& run);
  void end_run(std::int64_t run_id);

  /// The stored trial of that key on that device, if any (resume).
  std::optional<TrialRecord> find_trial(const DeviceFingerprint& fp, const KernelIdentity& k,
                                        const gdn::Problem& problem,
                                        const std::string& config) const;
  /// created_at of the oldest trial of (device, kernel identity, problem); nullopt when there is
  /// none.
  std::optional<std::string> first_trial_at(const DeviceFingerprint& fp, const KernelIdentity& k,
                                            const gdn::Problem& problem) const;
  /// Inserts one trial in its own transaction. Returns false when a trial with the same key already
  /// exists (it is kept unchanged).
  bool put_trial(const DeviceFingerprint& fp, const TrialRecord& t);
  /// Every trial of (device, kernel identity, problem), ordered by config label.
  std::vector<TrialRecord> trials(const DeviceFingerprint& fp, const KernelIdentity& k,
                                  const gdn::Problem& problem) const;
  /// The same for the device of fingerprint digest `device_digest`.
  std::vector<TrialRecord> trials(const std::string& device_digest, const KernelIdentity& k,
                                  const gdn::Problem& problem) const;

  /// Records (replacing) the decided winner of (device, kernel identity, problem).
  void put_winner(const DeviceFingerprint& fp, const KernelIdentity& k, const gdn::Problem& problem,
                  const Winner& w, std::int64_t run_id);
  std::optional<Winner> winner(const DeviceFingerprint& fp, const KernelIdentity& k,
                               const gdn::Problem& problem) const;

  /// Best config per problem for `k` on every device (winner where decided, else best_valid),
  /// ordered by device digest then problem key.
  std::vector<TunedEntry> tuned_entries(const KernelIdentity& k) const;
  /// Every card the store has a row for (trials, winners or runs), ordered by digest.
  std::vector<DeviceFingerprint> devices() const;

  /// The decided winners of `problem` on device `fp` for the kernel `k.kernel` under its other
  /// identities (superseded sources or spaces), newest first; only those decided at or before
  /// `decided_by` where given.
  std::vector<Winner> earlier_winners(const DeviceFingerprint& fp, const KernelIdentity& k,
                                      const gdn::Problem& problem,
                                      const std::optional<std::string>& decided_by) const;

  /// Stable JSON form of the whole store (object keys sorted; arrays ordered by their natural keys;
  /// no row ids).
  nlohmann::json export_json() const;
  /// export_json() as text, one row per line: compact, and a changed row is a changed line in a
  /// diff.
  std::string export_text() const;
  /// Human summary: per device, trials by status, problems, kernels, winners, runs.
  std::string summary() const;
  /// Copies devices, runs, trials and winners of `other` that this store lacks.
  MergeStats merge_from(const Store& other);

  /// Deletes the trials of every kernel identity not in `current` (superseded sources or spaces),
  /// except the trial each winner names, then the runs and devices no row refers to any more, and
  /// compacts the file. Every winner is kept. With `dry_run`, counts what would go and changes
  /// nothing. One transaction: a failure or a kill leaves the store as it was.
  PruneStats prune(const std::vector<KernelIdentity>& current, bool dry_run = false);

 private:
  Store(std::string path, std::unique_ptr<SQLite::Database> db);
  std::optional<std::int64_t> device_id(const DeviceFingerprint& fp) const;

  std::string path_;
  std::unique_ptr<SQLite::Database> db_;
};

/// SQL of schema version 1 (before the winners table), kept so migrations can be tested from a real
/// v1 file.
extern const char* const kSchemaV1Sql;

}  // namespace qla::tuner
