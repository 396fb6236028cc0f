// `qla tune`, `qla db` and `qla worker` through the real executable (QLA_EXE), on the fake kernel.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "gpu_guard.hpp"

namespace {

struct QlaRun {
  int rc = -1;
  std::string out, err;
};

class Dir {
 public:
  Dir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("qla_cli_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~Dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& n) const { return (path_ / n).string(); }

 private:
  std::filesystem::path path_;
};

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

/// Runs `qla` with args (shell-quoted by the caller where needed), capturing stdout and stderr.
QlaRun qla(const Dir& d, const std::string& args) {
  const std::string cmd =
      std::string(QLA_EXE) + " " + args + " >" + d.file("out.txt") + " 2>" + d.file("err.txt");
  const int status = std::system(cmd.c_str());
  QlaRun r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(d.file("out.txt"));
  r.err = slurp(d.file("err.txt"));
  return r;
}

TEST(Cli, TuneWithoutAGpuSaysSoInOneLine) {
  if (qla::test::gpu_unavailable_reason().empty()) GTEST_SKIP() << "a GPU is present";
  Dir d;
  const QlaRun r = qla(d, "tune --suite smoke --db " + d.file("s.sqlite"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err.rfind("no CUDA GPU: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(d.file("s.sqlite")));
}

TEST(Cli, BadFlagsAreUserErrors) {
  Dir d;
  for (const char* args :
       {"tune --fake --problem 4096@2x8 --budget lots",
        "tune --fake --problem 4096@2x8 --strategy genetic", "tune --fake --problem 4096",
        "tune --fake --suite everything",
        // numbers that would wrap, or make every candidate a timeout, are refused
        "tune --fake --problem 4096@2x8 --timeout 0", "tune --fake --problem 4096@2x8 --timeout -1",
        "tune --fake --problem 4096@2x8 --timeout nan",
        "tune --fake --problem 4096@2x8 --transfer -1", "tune --fake --problem 4096@2x8 --seed -5",
        "tune --fake --problem 4096@2x8 --budget 1e30",
        "tune --fake --problem 4096@2x8 --skip-slow-variants 0.5",
        "tune --fake --problem 4096@2x8 --skip-slow-variants nan",
        "tune --fake --problem 4096@4294967298x4294967304"}) {
    const QlaRun r = qla(d, std::string(args) + " --db " + d.file("x.sqlite"));
    EXPECT_EQ(r.rc, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find("qla: error: --"), std::string::npos) << args << ": " << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(d.file("x.sqlite"))) << "a refused run created its store";
  // The fake kernel is a test seam: it never writes a store next to the real ones by default.
  const QlaRun seam = qla(d, "tune --fake --problem 4096@2x8 --budget 2");
  EXPECT_EQ(seam.rc, 2) << seam.err;
  EXPECT_FALSE(std::filesystem::exists(d.file("results")));
}

TEST(Cli, FakeTuneThenResume) {
  Dir d;
  const std::string db = d.file("t.sqlite");
  const QlaRun a = qla(
      d, "tune --fake --problem 4096@2x8 --problem 1000+3000@2x8 --budget 40 --json --db " + db);
  ASSERT_EQ(a.rc, 0) << a.err;
  const auto ja = nlohmann::json::parse(a.out);
  ASSERT_EQ(ja["results"].size(), 2u);
  EXPECT_EQ(ja["results"][0]["measured"], 40);
  EXPECT_TRUE(ja["results"][0].contains("winner"));
  const QlaRun b = qla(
      d, "tune --fake --problem 4096@2x8 --problem 1000+3000@2x8 --budget 40 --json --db " + db);
  ASSERT_EQ(b.rc, 0) << b.err;
  const auto jb = nlohmann::json::parse(b.out);
  EXPECT_EQ(jb["results"][0]["measured"], 0);
  EXPECT_EQ(jb["results"][0]["resumed"], 40);
  EXPECT_EQ(jb["results"][0]["winner"]["config"], ja["results"][0]["winner"]["config"]);
}

TEST(Cli, CrashingCandidatesInTheWorkerAreStored) {
  Dir d;
  const std::string db = d.file("t.sqlite");
  // The anneal strategy starts at the default config: make it crash, and a neighbour hang.
  const QlaRun r = qla(d,
                       "tune --fake --problem 4096@2x8 --budget 30 --timeout 1 --json --fault "
                       "c64.bv64.s2.w8.u2=segv "
                       "--fault c64.bv64.s2.w8.u1=hang --fault c64.bv64.s2.w8.u4=hang --fault "
                       "c64.bv32.s2.w8.u2=abort "
                       "--fault c64.bv128.s2.w8.u2=abort --db " +
                           db);
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& st = j["results"][0]["measured_by_status"];
  EXPECT_GE(st.value("crashed", 0), 1) << st;
  EXPECT_EQ(j["results"][0]["measured"], 30);
  const QlaRun show = qla(d, "db show " + db);
  EXPECT_NE(show.out.find("crashed="), std::string::npos) << show.out;
}

TEST(Cli, SigintStopsCleanlyAndTheRerunResumes) {
  Dir d;
  const std::string db = d.file("t.sqlite");
  const std::string marker = d.file("hang_started");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("QLA_FAKE_HANG_MARKER", marker.c_str(), 1);
    const std::string out = d.file("int_out.txt");
    std::freopen(out.c_str(), "w", stdout);
    std::freopen(d.file("int_err.txt").c_str(), "w", stderr);
    ::execl(QLA_EXE, QLA_EXE, "tune", "--fake", "--problem", "4096@2x8", "--problem", "8192@2x8",
            "--strategy", "exhaustive", "--timeout", "2", "--fault", "c32.bv16.s1.w4.u8=hang",
            "--json", "--db", db.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Interrupt inside the hanging trial: wait for the fake kernel to say it began (the deadline only
  // bounds a broken run; the 2 s trial timeout would end the hang first).
  bool hanging = false;
  for (int i = 0; i < 6000 && !hanging; ++i) {
    hanging = std::filesystem::exists(marker);
    if (!hanging) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(hanging) << "the hanging trial never started";
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(d.file("int_err.txt"));
  const auto j = nlohmann::json::parse(slurp(d.file("int_out.txt")));
  EXPECT_TRUE(j["stopped"].get<bool>());
  const int measured = j["results"][0]["measured"];
  EXPECT_GE(measured, 4);  // the trial in flight finished (timed out) and was committed
  const QlaRun again = qla(d, "tune --fake --problem 4096@2x8 --strategy exhaustive --budget " +
                                  std::to_string(measured) + " --json --db " + db);
  ASSERT_EQ(again.rc, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["results"][0]["measured"], 0);
}

TEST(Cli, DbExportIsStableAndMergeAddsNoDuplicates) {
  Dir d;
  ASSERT_EQ(qla(d, "tune --fake --problem 4096@2x8 --budget 20 --db " + d.file("a.sqlite")).rc, 0);
  ASSERT_EQ(qla(d, "tune --fake --problem 4096@2x8 --problem 2048@2x8 --budget 25 --seed 7 --db " +
                       d.file("b.sqlite"))
                .rc,
            0);
  const QlaRun e1 = qla(d, "db export " + d.file("a.sqlite"));
  const QlaRun e2 = qla(d, "db export " + d.file("a.sqlite") + " -o " + d.file("a.json"));
  ASSERT_EQ(e1.rc, 0);
  ASSERT_EQ(e2.rc, 0);
  EXPECT_EQ(e1.out, slurp(d.file("a.json")));
  const QlaRun m = qla(d, "db merge --into " + d.file("m.sqlite") + " " + d.file("a.sqlite") + " " +
                              d.file("b.sqlite"));
  ASSERT_EQ(m.rc, 0) << m.err;
  const QlaRun m2 = qla(d, "db merge --into " + d.file("m.sqlite") + " " + d.file("a.sqlite") +
                               " " + d.file("b.sqlite"));
  EXPECT_NE(m2.out.find("+0 trials"), std::string::npos) << m2.out;
  const auto ja = nlohmann::json::parse(e1.out);
  const auto jb = nlohmann::json::parse(qla(d, "db export " + d.file("b.sqlite")).out);
  const auto jm = nlohmann::json::parse(qla(d, "db export " + d.file("m.sqlite")).out);
  std::set<std::string> keys;
  for (const auto* j : {&ja, &jb})
    for (const auto& t : (*j)["trials"])
      keys.insert(t["problem"].get<std::string>() + "|" + t["config"].get<std::string>());
  EXPECT_EQ(jm["trials"].size(), keys.size());
  EXPECT_EQ(jm["runs"].size(), 2u);
}

TEST(Cli, DbRefusesAForeignFileWithoutTouchingIt) {
  Dir d;
  const std::string path = d.file("notes.txt");
  std::ofstream(path) << "not a store";
  const QlaRun r = qla(d, "db show " + path);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("not an SQLite database"), std::string::npos) << r.err;
  const QlaRun m = qla(d, "db merge --into " + path + " " + path);
  EXPECT_EQ(m.rc, 2);
  EXPECT_EQ(slurp(path), "not a store");
}

TEST(Cli, DbEfficiencyReplaysAnExhaustiveTuning) {
  Dir d;
  const std::string db = d.file("t.sqlite");
  ASSERT_EQ(
      qla(d,
          "tune --fake --problem 4096@2x8 --strategy exhaustive --budget 1000 --transfer 0 --db " +
              db)
          .rc,
      0);
  const QlaRun r = qla(d, "db efficiency --fake --repeats 5 --json " + d.file("e.json") + " " + db);
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* s : {"exhaustive", "random", "anneal"})
    EXPECT_NE(r.out.find(s), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(slurp(d.file("e.json")));
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[1]["repeats"], 5);
  // A store with no exhaustive tuning, and a file that is no store, are refused.
  ASSERT_EQ(qla(d, "tune --fake --problem 8192@2x8 --budget 5 --db " + d.file("p.sqlite")).rc, 0);
  EXPECT_EQ(qla(d, "db efficiency --fake " + d.file("p.sqlite")).rc, 2);
  EXPECT_EQ(qla(d, "db efficiency --fake " + d.file("e.json")).rc, 2);
}

TEST(Cli, DbCompareSetsTheWinnersOfTwoTuningsSideBySide) {
  Dir d;
  const std::string problems = "--problem 4096@2x8 --problem 1000+3000@2x8 --problem 16384@2x8";
  ASSERT_EQ(qla(d, "tune --fake " + problems + " --budget 12 --db " + d.file("a.sqlite")).rc, 0);
  ASSERT_EQ(
      qla(d, "tune --fake " + problems + " --budget 12 --seed 7 --db " + d.file("b.sqlite")).rc, 0);
  // A store that tuned one more problem: its winner is listed apart, not compared.
  ASSERT_EQ(qla(d, "tune --fake " + problems + " --problem 2048@2x8 --budget 12 --db " +
                       d.file("c.sqlite"))
                .rc,
            0);
  const QlaRun r = qla(d, "db compare " + d.file("a.sqlite") + " " + d.file("b.sqlite") +
                              " --json " + d.file("out.json"));
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(d.file("out.json")));
  EXPECT_EQ(j["schema"], "qla.repeatability.v1");
  EXPECT_DOUBLE_EQ(j["tolerance"].get<double>(), 0.03);
  ASSERT_EQ(j["rows"].size(), 3u);
  ASSERT_EQ(j["stores"].size(), 2u);
  EXPECT_EQ(j["stores"][1]["path"], d.file("b.sqlite"));
  ASSERT_EQ(j["stores"][1]["runs"].size(), 1u);
  EXPECT_NE(j["stores"][1]["runs"][0]["args"].get<std::string>().find("--seed 7"),
            std::string::npos);
  int verdicts = 0;
  for (const auto& row : j["rows"]) {
    EXPECT_EQ(row["kernel"], "test.fake");
    EXPECT_EQ(row["same_config"].get<bool>(), row["config_a"] == row["config_b"]) << row;
    // The fake kernel's times are exact: B's time of A's winner is A's (and the other way round).
    if (!row["b_on_a"].is_null()) {
      EXPECT_DOUBLE_EQ(row["b_on_a"].get<double>(), row["median_us_a"].get<double>());
    }
    if (!row["a_on_b"].is_null()) {
      EXPECT_DOUBLE_EQ(row["a_on_b"].get<double>(), row["median_us_b"].get<double>());
    }
    // One table line per row, with its verdict.
    EXPECT_NE(r.out.find(row["problem"].get<std::string>()), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(row["verdict"].get<std::string>()), std::string::npos) << r.out;
  }
  for (const char* k : {"same_config", "within_noise", "differs"})
    verdicts += j["summary"][k].get<int>();
  EXPECT_EQ(verdicts, 3);
  EXPECT_EQ(j["summary"]["compared"], 3);
  EXPECT_TRUE(j["only_in_a"].empty());
  EXPECT_NE(r.out.find("3 compared: "), std::string::npos) << r.out;
  // A store compared with itself agrees everywhere.
  const QlaRun self = qla(d, "db compare " + d.file("a.sqlite") + " " + d.file("a.sqlite") +
                                 " --json " + d.file("self.json"));
  ASSERT_EQ(self.rc, 0) << self.err;
  EXPECT_EQ(nlohmann::json::parse(slurp(d.file("self.json")))["summary"]["same_config"], 3);
  // The extra problem of C is C's alone.
  const QlaRun c = qla(d, "db compare " + d.file("a.sqlite") + " " + d.file("c.sqlite") +
                              " --tolerance 0.5 --json " + d.file("c.json"));
  ASSERT_EQ(c.rc, 0) << c.err;
  const auto jc = nlohmann::json::parse(slurp(d.file("c.json")));
  EXPECT_DOUBLE_EQ(jc["tolerance"].get<double>(), 0.5);
  EXPECT_EQ(jc["rows"].size(), 3u);
  ASSERT_EQ(jc["only_in_b"].size(), 1u);
  EXPECT_EQ(jc["only_in_b"][0]["problem"], "b1.t2048.h2x8.k128v128.bf16.h0");
  // A missing store, a negative tolerance and a file that is no store are refused, and no
  // document is written.
  const QlaRun missing = qla(d, "db compare " + d.file("a.sqlite") + " " + d.file("nope.sqlite") +
                                    " --json " + d.file("m.json"));
  EXPECT_EQ(missing.rc, 2);
  EXPECT_NE(missing.err.find("qla: error: "), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("nope.sqlite"), std::string::npos) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(d.file("nope.sqlite")));
  EXPECT_FALSE(std::filesystem::exists(d.file("m.json")));
  const QlaRun neg = qla(d, "db compare " + d.file("a.sqlite") + " " + d.file("b.sqlite") +
                                " --tolerance -0.1 --json " + d.file("m.json"));
  EXPECT_EQ(neg.rc, 2);
  EXPECT_NE(neg.err.find("--tolerance"), std::string::npos) << neg.err;
  EXPECT_EQ(qla(d, "db compare " + d.file("a.sqlite") + " " + d.file("out.json")).rc, 2);
  EXPECT_FALSE(std::filesystem::exists(d.file("m.json")));
}

}  // namespace
