#include "qla/tuner/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "helpers.hpp"
#include "qla/error.hpp"
#include "qla/tuner/fake_kernel.hpp"
#include "qla/tuner/problem_json.hpp"
#include "store_columns.hpp"

namespace qla::tuner {
namespace {

using test::fake_device;
using test::slurp;
using test::TempDir;
using test::varlen_problem;

const KernelIdentity kFake{"test.fake", "src1", "space1"};

TrialRecord ok_trial(const Point& values, double us) {
  TrialRecord t;
  t.kernel = kFake;
  t.problem = varlen_problem({4096});
  t.values = values;
  t.config = fake_space().label(values);
  t.result.time = {us, us * 0.99, us * 1.02, 12, 0.004};
  t.result.kernels = {{"k1", us * 0.3}, {"k2", us * 0.7}};
  t.result.errors = {{"o", 1e-3, 2e-3, 0}};
  t.result.resources = {128, 200000, 0};
  return t;
}

void expect_refused_unchanged(const std::string& path, const std::string& needle) {
  const std::string before = slurp(path);
  for (auto mode : {Store::Mode::kReadOnly, Store::Mode::kReadWrite}) {
    try {
      Store::open(path, mode);
      ADD_FAILURE() << "opened " << path;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(slurp(path), before) << "refused file was modified";
}

TEST(Store, FreshStoreHasTheCurrentSchemaInWalMode) {
  TempDir dir;
  Store s = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  EXPECT_EQ(s.schema_version(), kSchemaVersion);
  SQLite::Database db(dir.file("a.sqlite"), SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
  EXPECT_EQ(db.execAndGet("PRAGMA application_id").getInt(), kStoreApplicationId);
  for (const char* t : {"devices", "runs", "trials", "winners", "schema_version"})
    EXPECT_TRUE(db.tableExists(t)) << t;
  EXPECT_EQ(db.execAndGet(
                  "SELECT COUNT(*) FROM sqlite_master WHERE type = 'view' AND name = 'best_valid'")
                .getInt(),
            1);
}

TEST(Store, MigratesAVersionOneStoreAndKeepsItsRows) {
  TempDir dir;
  const std::string path = dir.file("v1.sqlite");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(kSchemaV1Sql);
    db.exec("PRAGMA application_id = " + std::to_string(kStoreApplicationId));
    db.exec("INSERT INTO devices VALUES (1, 'd1', 'Old GPU', 8, 0, 108, 1, 1, 1, 1, 1, 1)");
    db.exec(
        "INSERT INTO trials (device_id, kernel, source_hash, space_hash, problem, h_qk, h_v, "
        "k_dim, v_dim, "
        "dtype, tokens, sequences, problem_json, config, config_values, status, median_us, "
        "samples, created_at) "
        "VALUES (1, 'k', 's', 'h', 'p', 2, 8, 128, 128, 'bf16', 4096, 1, '{}', 'c64', '[64]', "
        "'ok', 10.5, 10, 'x')");
  }
  try {
    Store::open(path, Store::Mode::kReadOnly);
    ADD_FAILURE() << "a v1 store opened read-only should ask for a migration";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 1"), std::string::npos) << e.what();
  }
  Store s = Store::open(path, Store::Mode::kReadWrite);
  EXPECT_EQ(s.schema_version(), 2);
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  EXPECT_TRUE(db.tableExists("winners"));
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM trials").getInt(), 1);
  EXPECT_DOUBLE_EQ(db.execAndGet("SELECT median_us FROM best_valid").getDouble(), 10.5);
}

TEST(Store, RefusesANonSqliteFileAndLeavesItAlone) {
  TempDir dir;
  const std::string path = dir.file("notes.sqlite");
  std::ofstream(path) << "these are my notes, not a database\n";
  expect_refused_unchanged(path, "not an SQLite database");
}

TEST(Store, RefusesAForeignDatabaseAndLeavesItAlone) {
  TempDir dir;
  const std::string path = dir.file("foreign.sqlite");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES "
        "(1, 'a')");
  }
  expect_refused_unchanged(path, "another application");
}

TEST(Store, RefusesANewerSchemaAndLeavesItAlone) {
  TempDir dir;
  const std::string path = dir.file("newer.sqlite");
  {
    Store s = Store::open(path, Store::Mode::kReadWrite);
    s.ensure_device(fake_device());
  }
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("UPDATE schema_version SET version = 99");
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  expect_refused_unchanged(path, "newer");
}

TEST(Store, RefusesACorruptFileAndLeavesItAlone) {
  TempDir dir;
  const std::string path = dir.file("corrupt.sqlite");
  {
    Store s = Store::open(path, Store::Mode::kReadWrite);
    for (int i = 0; i < 50; ++i) {
      TrialRecord t = ok_trial({64, 64, 2, 8, 2}, 10 + i);
      t.problem = varlen_problem({4096 + i});
      s.put_trial(fake_device(), t);
    }
  }
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.exec("PRAGMA journal_mode = DELETE");
  }
  std::string bytes = slurp(path);
  ASSERT_GT(bytes.size(), 8192u);
  for (std::size_t i = 4096 + 100; i < bytes.size(); i += 7)
    bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  expect_refused_unchanged(path, "corrupt");
}

TEST(Store, TrialRoundTripAndFirstWriterWins) {
  TempDir dir;
  Store s = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  const TrialRecord t = ok_trial({64, 64, 2, 8, 2}, 42.5);
  EXPECT_TRUE(s.put_trial(fake_device(), t));
  TrialRecord again = t;
  again.result.time.median_us = 1;
  EXPECT_FALSE(s.put_trial(fake_device(), again));
  const auto back = s.find_trial(fake_device(), kFake, t.problem, t.config);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->result.status, TrialStatus::kOk);
  EXPECT_DOUBLE_EQ(back->result.time.median_us, 42.5);
  EXPECT_EQ(back->result.time.samples, 12);
  EXPECT_EQ(back->result.kernels.size(), 2u);
  EXPECT_EQ(back->result.errors.at(0).name, "o");
  EXPECT_EQ(back->result.resources.registers, 128);
  EXPECT_EQ(back->values, t.values);
  EXPECT_EQ(problem_key(back->problem), problem_key(t.problem));
  EXPECT_FALSE(back->created_at.empty());

  TrialRecord bad = ok_trial({64, 32, 2, 8, 2}, 0);
  bad.result.status = TrialStatus::kInvalid;
  bad.result.errors = {{"o", std::nan(""), INFINITY, 17}};
  ASSERT_TRUE(s.put_trial(fake_device(), bad));
  const auto bad_back = s.find_trial(fake_device(), kFake, bad.problem, bad.config);
  ASSERT_TRUE(bad_back);
  EXPECT_EQ(bad_back->result.status, TrialStatus::kInvalid);
  EXPECT_EQ(bad_back->result.errors.at(0).nan_count, 17);
  // The invalid trial is faster on paper (median 0) but never the best valid one.
  const auto tuned = s.tuned_entries(kFake);
  ASSERT_EQ(tuned.size(), 1u);
  EXPECT_EQ(tuned[0].config, t.config);
}

TEST(Store, FingerprintAndSourceHashAreNotMixed) {
  TempDir dir;
  Store s = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  const TrialRecord t = ok_trial({64, 64, 2, 8, 2}, 10);
  ASSERT_TRUE(s.put_trial(fake_device(0), t));
  EXPECT_FALSE(s.find_trial(fake_device(1), kFake, t.problem, t.config));
  KernelIdentity other_src = kFake;
  other_src.source_hash = "src2";
  EXPECT_FALSE(s.find_trial(fake_device(0), other_src, t.problem, t.config));
  KernelIdentity other_space = kFake;
  other_space.space_hash = "space2";
  EXPECT_FALSE(s.find_trial(fake_device(0), other_space, t.problem, t.config));
  EXPECT_TRUE(s.tuned_entries(other_src).empty());
  // The same key on another device or source is a separate row.
  EXPECT_TRUE(s.put_trial(fake_device(1), t));
  TrialRecord t2 = t;
  t2.kernel = other_src;
  EXPECT_TRUE(s.put_trial(fake_device(0), t2));
  EXPECT_EQ(s.tuned_entries(kFake).size(), 2u);  // one per device
}

TEST(Store, WinnersAreReplacedNotDuplicated) {
  TempDir dir;
  Store s = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  const gdn::Problem p = varlen_problem({4096});
  s.put_trial(fake_device(), ok_trial({64, 64, 2, 8, 2}, 10));
  s.put_winner(fake_device(), kFake, p, {"c64.bv64.s2.w8.u2", {64, 64, 2, 8, 2}, 9.5, 10}, 0);
  s.put_winner(fake_device(), kFake, p, {"c64.bv64.s2.w8.u2", {64, 64, 2, 8, 2}, 9.7, 10}, 0);
  const auto w = s.winner(fake_device(), kFake, p);
  ASSERT_TRUE(w);
  EXPECT_DOUBLE_EQ(w->median_us, 9.7);
  EXPECT_EQ(s.export_json()["winners"].size(), 1u);
  const auto tuned = s.tuned_entries(kFake);
  ASSERT_EQ(tuned.size(), 1u);
  EXPECT_TRUE(tuned[0].decided);
}

TEST(Store, PruneKeepsCurrentSourcesAndEveryWinner) {
  TempDir dir;
  Store s = Store::open(dir.file("p.sqlite"), Store::Mode::kReadWrite);
  const KernelIdentity old_source{"test.fake", "src0", "space1"};
  const std::int64_t old_run = s.begin_run(fake_device(), {"old", "", "random", "8", "h"});
  const std::int64_t new_run = s.begin_run(fake_device(), {"new", "c0ffee", "random", "8", "h"});
  const Point a{64, 64, 2, 8, 2}, b{64, 64, 2, 8, 1}, c{32, 64, 2, 8, 2};
  for (const Point& p : {a, b, c}) {
    TrialRecord t = ok_trial(p, 10 + p[4]);
    t.kernel = old_source;
    t.run_id = old_run;
    ASSERT_TRUE(s.put_trial(fake_device(), t));
    t.kernel = kFake;
    t.run_id = new_run;
    ASSERT_TRUE(s.put_trial(fake_device(), t));
  }
  // The superseded source's winner (b) keeps its trial; its other trials and nothing of the current
  // source go.
  s.put_winner(fake_device(), old_source, varlen_problem({4096}),
               {fake_space().label(b), b, 11, 12}, old_run);
  const PruneStats dry = s.prune({kFake}, /*dry_run=*/true);
  EXPECT_EQ(dry.trials_removed, 2);
  EXPECT_EQ(dry.newest_run_removed, 0) << "the newest run's trials are of the current source";
  EXPECT_EQ(dry.newest_run_commit, "c0ffee");
  EXPECT_EQ(s.trials(fake_device(), old_source, varlen_problem({4096})).size(), 3u)
      << "a dry run changed the store";

  const PruneStats st = s.prune({kFake});
  EXPECT_EQ(st.trials_removed, 2);
  EXPECT_EQ(st.trials_kept, 4);
  EXPECT_EQ(st.winners_kept, 1);
  EXPECT_EQ(st.runs_removed, 0) << "the old run still owns the winner and its trial";
  const auto old_left = s.trials(fake_device(), old_source, varlen_problem({4096}));
  ASSERT_EQ(old_left.size(), 1u);
  EXPECT_EQ(old_left[0].values, b);
  EXPECT_EQ(s.trials(fake_device(), kFake, varlen_problem({4096})).size(), 3u);
  ASSERT_TRUE(s.winner(fake_device(), old_source, varlen_problem({4096})).has_value());

  // With no current source left, only the winner's trial stays; a run that owns nothing goes.
  const PruneStats none_dry = s.prune({}, /*dry_run=*/true);
  EXPECT_EQ(none_dry.newest_run_removed, 3) << "a build without the newest run's source";
  const PruneStats none = s.prune({});
  EXPECT_EQ(none.trials_removed, 3);
  EXPECT_EQ(none.runs_removed, 1);
  EXPECT_EQ(s.prune({}).trials_removed, 0) << "pruning twice removes nothing more";
}

TEST(Store, TheColumnTableIsTheTrialsTable) {
  TempDir dir;
  Store s = Store::open(dir.file("c.sqlite"), Store::Mode::kReadWrite);
  SQLite::Database db(dir.file("c.sqlite"), SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "PRAGMA table_info(trials)");
  std::vector<std::string> columns;
  while (q.executeStep()) columns.push_back(q.getColumn(1).getString());
  std::vector<std::string> expected{"id", "device_id"};
  for (const auto& c : schema::kTrialColumns) {
    expected.push_back(c.name);
    if (std::string(c.name) == "spills") expected.push_back("run_id");
  }
  EXPECT_EQ(columns, expected);
}

TEST(Store, EveryFieldOfATrialRoundTrips) {
  TempDir dir;
  Store s = Store::open(dir.file("r.sqlite"), Store::Mode::kReadWrite);
  const std::int64_t run = s.begin_run(fake_device(), {"args", "abc", "anneal", "8", "host"});
  TrialRecord t = ok_trial({32, 16, 3, 4, 8}, 12.5);
  t.problem = varlen_problem({100, 0, 4000}, 4, 16);
  t.result.message = "note";
  t.run_id = run;
  ASSERT_TRUE(s.put_trial(fake_device(), t));
  TrialRecord failed = ok_trial({64, 64, 2, 8, 1}, 0);
  failed.result.status = TrialStatus::kCompileError;
  failed.result.resources = {-1, -1, -1};
  ASSERT_TRUE(s.put_trial(fake_device(), failed));
  const auto got = s.find_trial(fake_device(), kFake, t.problem, t.config);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->values, t.values);
  EXPECT_EQ(got->run_id, run);
  EXPECT_EQ(problem_key(got->problem), problem_key(t.problem));
  EXPECT_DOUBLE_EQ(got->result.time.median_us, 12.5);
  EXPECT_DOUBLE_EQ(got->result.time.noise, t.result.time.noise);
  EXPECT_EQ(got->result.time.samples, 12);
  ASSERT_EQ(got->result.kernels.size(), 2u);
  EXPECT_EQ(got->result.kernels[1].name, "k2");
  ASSERT_EQ(got->result.errors.size(), 1u);
  EXPECT_DOUBLE_EQ(got->result.errors[0].max_abs, 2e-3);
  EXPECT_EQ(got->result.message, "note");
  EXPECT_EQ(got->result.resources.registers, 128);
  EXPECT_FALSE(got->created_at.empty());
  const auto untimed = s.find_trial(fake_device(), kFake, failed.problem, failed.config);
  ASSERT_TRUE(untimed);
  EXPECT_EQ(untimed->result.status, TrialStatus::kCompileError);
  EXPECT_EQ(untimed->result.time.samples, 0);
  EXPECT_EQ(untimed->result.resources.registers, -1);
  // The export names every exported column once and leaves the class columns to problem_json.
  const auto row = s.export_json()["trials"][0];
  for (const auto& c : schema::kTrialColumns) EXPECT_EQ(row.contains(c.name), c.exported) << c.name;
}

TEST(Store, ADamagedStoreIsRefusedAndMergesNothing) {
  TempDir dir;
  {
    Store b = Store::open(dir.file("b.sqlite"), Store::Mode::kReadWrite);
    b.put_trial(fake_device(), ok_trial({64, 64, 2, 8, 2}, 10));
    b.put_trial(fake_device(), ok_trial({64, 64, 2, 8, 1}, 11));
  }
  {
    SQLite::Database db(dir.file("b.sqlite"), SQLite::OPEN_READWRITE);
    db.exec("UPDATE trials SET errors = '[{\"name\": ' WHERE config = 'c64.bv64.s2.w8.u1'");
  }
  Store a = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  a.put_trial(fake_device(), ok_trial({32, 64, 2, 8, 2}, 9));
  const auto before = a.export_json();
  // The damage is found when the store is opened, for reading as for merging: one clear message, no
  // exception from deep inside an export or a lookup.
  for (auto mode : {Store::Mode::kReadOnly, Store::Mode::kReadWrite}) {
    try {
      Store::open(dir.file("b.sqlite"), mode);
      ADD_FAILURE() << "a damaged store was opened";
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("errors is not valid JSON"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(a.export_json(), before);
  // Missing tables and rows that refer to missing devices are damage too.
  {
    SQLite::Database db(dir.file("b.sqlite"), SQLite::OPEN_READWRITE);
    db.exec("UPDATE trials SET errors = '[]'");
    db.exec("PRAGMA foreign_keys = OFF");
    db.exec("DELETE FROM devices");
  }
  try {
    Store::open(dir.file("b.sqlite"), Store::Mode::kReadOnly);
    ADD_FAILURE() << "a store whose trials name no device was opened";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("missing row of devices"), std::string::npos) << e.what();
  }
  {
    SQLite::Database db(dir.file("b.sqlite"), SQLite::OPEN_READWRITE);
    db.exec("DROP TABLE winners");
  }
  EXPECT_THROW(Store::open(dir.file("b.sqlite"), Store::Mode::kReadOnly), UserError);
}

TEST(Store, ReadingAStoreCreatesNothingBesideIt) {
  // A committed store (WAL mode, no -wal or -shm beside it, as in a fresh clone): reading it must
  // not create sidecar files, which is also what makes it readable from a read-only directory.
  TempDir dir;
  const std::string path = dir.file("committed.sqlite");
  {
    Store s = Store::open(path, Store::Mode::kReadWrite);
    s.put_trial(fake_device(), ok_trial({64, 64, 2, 8, 2}, 10));
  }
  ASSERT_FALSE(std::filesystem::exists(path + "-wal"));
  ASSERT_FALSE(std::filesystem::exists(path + "-shm"));
  const std::string before = slurp(path);
  {
    const Store s = Store::open(path, Store::Mode::kReadOnly);
    EXPECT_EQ(s.export_json()["trials"].size(), 1u);
    EXPECT_NE(s.summary().find("trials: ok=1"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(path + "-shm")) << "a read created a shared-memory file";
    EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  }
  EXPECT_FALSE(std::filesystem::exists(path + "-shm"));
  EXPECT_EQ(slurp(path), before);
  // While a writer has it open, readers go through its WAL and see its committed trials.
  Store writer = Store::open(path, Store::Mode::kReadWrite);
  writer.put_trial(fake_device(), ok_trial({64, 64, 2, 8, 1}, 11));
  EXPECT_EQ(Store::open(path, Store::Mode::kReadOnly).export_json()["trials"].size(), 2u);
}

TEST(Store, ExportIsOrderedAndMergeAddsNoDuplicates) {
  TempDir dir;
  Store a = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  Store b = Store::open(dir.file("b.sqlite"), Store::Mode::kReadWrite);
  const std::vector<Point> pts = {{64, 64, 2, 8, 2}, {32, 64, 2, 8, 2}, {64, 128, 1, 8, 2}};
  const std::int64_t run_a =
      a.begin_run(fake_device(0), {"tune a", "abc", "anneal", "10", "host-a"});
  for (const Point& p : pts) {  // a: in one order; b: the other order, on another device
    TrialRecord t = ok_trial(p, 10 + p[1]);
    t.run_id = run_a;
    a.put_trial(fake_device(0), t);
  }
  for (auto it = pts.rbegin(); it != pts.rend(); ++it)
    b.put_trial(fake_device(1), ok_trial(*it, 20));
  a.put_trial(fake_device(1),
              ok_trial(pts[0], 20));  // also present in b: a duplicate for the merge
  a.end_run(run_a);

  const nlohmann::json ea = a.export_json();
  EXPECT_EQ(ea, a.export_json());
  // The text form is the same JSON, one row per line.
  const std::string text = a.export_text();
  EXPECT_EQ(nlohmann::json::parse(text), ea);
  std::size_t row_lines = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '{' || line == "{") continue;
    if (line.back() == ',') line.pop_back();
    EXPECT_TRUE(nlohmann::json::parse(line).is_object()) << line;
    ++row_lines;
  }
  EXPECT_EQ(row_lines,
            ea["devices"].size() + ea["runs"].size() + ea["trials"].size() + ea["winners"].size());
  const auto& trials = ea["trials"];
  for (std::size_t i = 1; i < trials.size(); ++i) {
    const auto key = [&](std::size_t j) {
      return trials[j]["device"].get<std::string>() + "|" +
             trials[j]["problem"].get<std::string>() + "|" + trials[j]["config"].get<std::string>();
    };
    EXPECT_LT(key(i - 1), key(i));
  }

  Store c = Store::open(dir.file("c.sqlite"), Store::Mode::kReadWrite);
  const MergeStats m1 = c.merge_from(a);
  EXPECT_EQ(m1.trials_added, 4);
  EXPECT_EQ(m1.devices_added, 2);
  EXPECT_EQ(m1.runs_added, 1);
  const MergeStats m2 = c.merge_from(b);
  EXPECT_EQ(m2.trials_added, 2);
  EXPECT_EQ(m2.trials_skipped, 1);
  const MergeStats m3 = c.merge_from(a);
  EXPECT_EQ(m3.trials_added, 0);
  EXPECT_EQ(m3.runs_added, 0);
  const nlohmann::json ec = c.export_json();
  EXPECT_EQ(ec["trials"].size(), 6u);
  EXPECT_EQ(ec["runs"].size(), 1u);
  // Merged rows keep their run and content.
  std::size_t with_run = 0;
  for (const auto& t : ec["trials"]) with_run += t["run"].get<std::string>().empty() ? 0 : 1;
  EXPECT_EQ(with_run, 3u);
}

TEST(Store, TwoProcessesTuneIntoOneStoreAtOnce) {
  TempDir dir;
  const std::string path = dir.file("shared.sqlite");
  // Both tune the same two problems (in opposite orders) plus one of their own: every key must land
  // exactly once.
  const int p1 = test::spawn_self({"tune-into", path, "1", "4096@2x8", "8192@2x8", "1024@2x8"});
  const int p2 = test::spawn_self({"tune-into", path, "2", "8192@2x8", "4096@2x8", "2048@2x8"});
  int s1 = 0, s2 = 0;
  ::waitpid(p1, &s1, 0);
  ::waitpid(p2, &s2, 0);
  ASSERT_TRUE(WIFEXITED(s1) && WEXITSTATUS(s1) == 0);
  ASSERT_TRUE(WIFEXITED(s2) && WEXITSTATUS(s2) == 0);
  const SpaceDecl space = fake_space();
  const ArchInfo arch;
  const std::size_t buildable = space.enumerate(&arch).size();
  Store s = Store::open(path, Store::Mode::kReadOnly);
  const nlohmann::json e = s.export_json();
  EXPECT_EQ(e["trials"].size(), 4 * buildable);
  EXPECT_EQ(e["runs"].size(), 2u);
  EXPECT_EQ(e["winners"].size(), 4u);
}

}  // namespace
}  // namespace qla::tuner
