// The bench_gdn_fwd executable as a user meets it: without a GPU one line and exit 1; bad flags
// exit 2; with a GPU a minimal run (naive kernel, cold mode, 2x8 at 1x2048) writes a document `qla
// report` can read.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "gpu_guard.hpp"
#include "report/report.hpp"

namespace {

namespace fs = std::filesystem;

struct Result {
  int rc = -1;
  std::string output;  ///< stdout and stderr together
};

/// The executable: $QLA_BENCH_GDN_FWD, else beside this test (a bundle's bin/), else the build
/// tree's.
std::string bench_path() {
  if (const char* env = std::getenv("QLA_BENCH_GDN_FWD"); env && *env) return env;
  std::error_code ec;
  const fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / "bench_gdn_fwd";
  if (!ec && fs::exists(beside)) return beside.string();
  return QLA_BENCH_GDN_FWD;
}

Result run(const std::string& args) {
  Result r;
  const std::string cmd = bench_path() + " " + args + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::size_t lines(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

TEST(BenchGdnFwdCli, WithoutAGpuOneLineAndExit1) {
  if (qla::test::gpu_unavailable_reason().empty())
    GTEST_SKIP() << "a GPU is present (covered by the next test)";
  const Result r = run("");
  EXPECT_EQ(r.rc, 1) << r.output;
  EXPECT_EQ(lines(r.output), 1u) << r.output;
  EXPECT_EQ(r.output.rfind("bench_gdn_fwd: no CUDA GPU:", 0), 0u) << r.output;
}

TEST(BenchGdnFwdCli, BadFlagsExit2WithOneLineNamingTheFlag) {
  for (const char* args :
       {"--heads 3x8", "--seqs 1x9999", "--impls fast", "--modes warm", "--no-such-flag",
        "--config gdn.nope=bv16", "--pdl-cp kkt", "--lists once"}) {
    const Result r = run(args);
    EXPECT_EQ(r.rc, 2) << args << ": " << r.output;
    EXPECT_EQ(lines(r.output), 1u) << args << ": " << r.output;
  }
  EXPECT_NE(run("--impls fast").output.find("--impls"), std::string::npos);
  EXPECT_NE(run("--config gdn.nope=bv16").output.find("--config"), std::string::npos);
  EXPECT_NE(run("--pdl-cp kkt").output.find("--pdl-cp"), std::string::npos);
  EXPECT_NE(run("--lists once").output.find("--lists"), std::string::npos);
}

TEST(BenchGdnFwdCli, HelpListsTheBenchFlags) {
  const Result r = run("--help");
  EXPECT_EQ(r.rc, 0);
  for (const char* flag : {"--heads", "--seqs", "--db", "--qla_out", "--impls", "--modes",
                           "--config", "--pdl", "--pdl-cp", "--lists"}) {
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
  }
}

TEST(BenchGdnFwdCli, MinimalGpuRunWritesAReadableDocument) {
  QLA_REQUIRE_GPU();
  const fs::path out =
      fs::temp_directory_path() / ("qla_bench_cli_" + std::to_string(::getpid()) + ".json");
  const Result r =
      run("--heads 2x8 --seqs 1x2048 --impls naive --modes cold --max_seconds 0.5 --qla_out " +
          out.string());
  ASSERT_EQ(r.rc, 0) << r.output;
  const qla::report::ReportData d =
      qla::report::load_report_data({out.string()}, {}, std::nullopt, "");
  EXPECT_GT(d.copy_gbps, 0);
  const qla::report::Shape s{2, 8, {2048}};
  ASSERT_EQ(d.timings.count("cold"), 1u) << r.output;  // --modes cold
  ASSERT_EQ(d.timings.at("cold").count(s), 1u) << r.output;
  EXPECT_GT(d.timings.at("cold").at(s).at("naive").ms, 0);
  fs::remove(out);
}

}  // namespace
