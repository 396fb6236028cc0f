#include "report/report.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "qla/error.hpp"

namespace qla::report {
namespace {

namespace fs = std::filesystem;
const std::string kDir = QLA_REPORT_FIXTURES;

ReportData fixture(bool with_store = false) {
  std::optional<nlohmann::json> store;
  if (with_store) {
    store = nlohmann::json::parse(R"({
      "runs": [{"started_at": "2026-11-26T10:00:00Z", "ended_at": "2026-11-26T10:03:00Z"}],
      "trials": [{"kernel": "gdn.fused_fwd", "problem": "p1", "status": "ok"},
                 {"kernel": "gdn.fused_fwd", "problem": "p1", "status": "invalid"},
                 {"kernel": "gdn.fused_fwd", "problem": "p2", "status": "crashed"}],
      "winners": [{"kernel": "gdn.fused_fwd", "problem": "p1", "config": "c64.bv64", "median_us": 100.0,
                   "default_median_us": 150.0},
                  {"kernel": "gdn.fused_fwd", "problem": "p2", "config": "c64.bv64", "median_us": 80.0,
                   "default_median_us": 80.0}]})");
  }
  return load_report_data({kDir + "/bench_qla.json", kDir + "/bench_fla.json"},
                          {kDir + "/published/other.json"}, store, "abc123");
}

bool has(const std::string& page, const std::string& needle) {
  return page.find(needle) != std::string::npos;
}

TEST(Report, SpeedupsComeFromTheBenchDocuments) {
  const std::string md = render_markdown(fixture());
  // 2/8 1x8192: FLA 0.25 / tuned 0.125 = 2.00x, unfused 0.5 / 0.125 = 4.00x, naive 32.00x.
  EXPECT_TRUE(
      has(md, "| 2/8 | 1x8192 | 0.125 | 0.200 | 0.500 | 4.000 | 0.250 | 2.00x | 4.00x | 32.00x |"))
      << md;
  // Without a tuned time the default is "ours": 1.2 / 0.8 = 1.50x.
  EXPECT_TRUE(has(md, "| 16/64 | 4096+4096 | – | 0.800 | – | – | 1.200 | 1.50x | – | – |")) << md;
  EXPECT_TRUE(has(md, "# qla report: Fixture GPU 80GB"));
  // The graph table's shapes summed up: sqrt(2.00 · 1.50) = 1.73x; the cold table has no FLA time.
  EXPECT_TRUE(has(md, "\n×FLA over 2 shapes: geomean 1.73x (1.50x–2.00x), faster on 2 of 2.\n"))
      << md;
  EXPECT_EQ(md.find("×FLA over"), md.rfind("×FLA over")) << md;
  // What tuning bought, over the shapes with both qla times: 2/8 1x8192 0.200 / 0.125 (16/64 has
  // no tuned time); the cold table has no default time.
  EXPECT_TRUE(has(md,
                  "\nTuned over untuned (qla default / qla tuned) over 1 shape: geomean 1.60x "
                  "(1.60x–1.60x), 1.05x or more on 1 of 1.\n"))
      << md;
  EXPECT_EQ(md.find("Tuned over untuned"), md.rfind("Tuned over untuned")) << md;
  // The cold row of the same shape and implementation lands in its own table, not over the graph
  // row.
  const std::size_t cold = md.find("cold mode");
  ASSERT_NE(cold, std::string::npos);
  EXPECT_TRUE(has(md.substr(cold), "| 2/8 | 1x8192 | 0.150 | – | – | – | – |")) << md;
  EXPECT_TRUE(has(md, "| fla | 0.5.2 |"));
  // Each document says how it was measured, beside its name.
  EXPECT_TRUE(
      has(md, "(fla, 2026-11-26)`: cuda_graph, median of replays, measured in an earlier call"))
      << md;
}

// A table past the headline shapes (FlashQLA's whole matrix) breaks its ratios down: the headline
// shapes alone, then each head configuration; a table of headline shapes only has no breakdown.
TEST(Report, RatiosBrokenDownWhenTheTableGoesPastTheHeadline) {
  ReportData d = fixture();
  const Shape headline_2x8{2, 8, {8192}};
  d.headline = {headline_2x8, Shape{16, 64, {32768}}};  // 16/64 4096+4096 is not one of them
  const std::string md = render_markdown(d);
  const std::string head =
      "| shapes | count | ×FLA: geomean (range), faster | ×FlashQLA: geomean (range), faster |\n";
  ASSERT_TRUE(has(md, head)) << md;
  EXPECT_EQ(md.find(head), md.rfind(head)) << "the cold table holds headline shapes only\n" << md;
  // 2/8 1x8192: FLA 0.25 / tuned 0.125; 16/64 4096+4096: FLA 1.2 / default 0.8.
  EXPECT_TRUE(has(md, head + "|---|---|---|---|\n"
                             "| headline | 1 | 2.00x (2.00x–2.00x), 1 of 1 faster | – |\n"
                             "| 2/8 | 1 | 2.00x (2.00x–2.00x), 1 of 1 faster | – |\n"
                             "| 16/64 | 1 | 1.50x (1.50x–1.50x), 1 of 1 faster | – |\n"))
      << md;
  // The line over the whole table stays as it was.
  EXPECT_TRUE(has(md, "\n×FLA over 2 shapes: geomean 1.73x (1.50x–2.00x), faster on 2 of 2.\n"));

  d.headline.push_back(Shape{16, 64, {4096, 4096}});
  EXPECT_FALSE(has(render_markdown(d), "| shapes | count |"));
  d.headline.clear();
  EXPECT_FALSE(has(render_markdown(d), "| shapes | count |"));
}

// FlashQLA's bench (bench/flashqla_bench.py) beside ours adds its time and our ratio over it.
TEST(Report, FlashQlaColumnsAppearWhenItsBenchRan) {
  const fs::path dir = fs::temp_directory_path() / ("qla_report_fq_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "bench_flashqla.json") << R"({"schema": "qla.bench.v1", "implementation":
    "flashqla", "date": "2026-11-29", "device": {"name": "Fixture GPU 80GB", "sm_count": 132},
    "versions": {"flash_qla": "0.1.3"}, "rows": [{"name": "2x8/8192", "h_qk": 2, "h_v": 8,
    "seqlens": [8192], "ms": 0.1}]})";
  const std::string md = render_markdown(load_report_data(
      {kDir + "/bench_qla.json", kDir + "/bench_fla.json", (dir / "bench_flashqla.json").string()},
      {}, std::nullopt, "abc123"));
  fs::remove_all(dir);
  // 2/8 1x8192: FlashQLA 0.1 / tuned 0.125 = 0.80x.
  EXPECT_TRUE(has(md, "| FLA ms | FlashQLA ms | ×FLA | ×FlashQLA |")) << md;
  EXPECT_TRUE(
      has(md, "| 2/8 | 1x8192 | 0.125 | 0.200 | 0.500 | 4.000 | 0.250 | 0.100 | 2.00x | 0.80x |"))
      << md;
  // Only 2/8 has a FlashQLA time: 0.1 / 0.125.
  EXPECT_TRUE(has(md,
                  "×FLA over 2 shapes: geomean 1.73x (1.50x–2.00x), faster on 2 of 2. "
                  "×FlashQLA over 1 shape: geomean 0.80x (0.80x–0.80x), faster on 0 of 1.\n"))
      << md;
  // Without FlashQLA's bench the table keeps its columns (the fixture page above).
  EXPECT_FALSE(has(render_markdown(fixture()), "FlashQLA ms"));
}

// Documents that name a comparison set pair only with each other, in a section of their own; the
// main tables keep their rows and ratios.
TEST(Report, AComparisonSetKeepsToItsOwnRuns) {
  const fs::path dir = fs::temp_directory_path() / ("qla_report_set_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "qla.json") << R"({"schema": "qla.bench.v1", "implementation": "qla",
    "set": "matrix-fla", "date": "2026-12-01", "method": "the matrix with FLA",
    "device": {"name": "Fixture GPU 80GB"}, "versions": {"git_commit": "feed"},
    "ceilings": {"copy_gbps": 1.0, "matmul_tflops": 1.0}, "rows": [
    {"name": "2x8/8192", "implementation": "qla-tuned", "mode": "graph", "h_qk": 2, "h_v": 8,
     "seqlens": [8192], "ms": 0.1},
    {"name": "2x8/2048", "implementation": "qla-tuned", "mode": "graph", "h_qk": 2, "h_v": 8,
     "seqlens": [2048], "ms": 0.05},
    {"name": "4x16/2048", "implementation": "qla-default", "mode": "graph", "h_qk": 4, "h_v": 16,
     "seqlens": [2048], "ms": 0.04}]})";
  std::ofstream(dir / "fla.json") << R"({"schema": "qla.bench.v1", "implementation": "fla",
    "set": "matrix-fla", "date": "2026-12-01", "device": {"name": "Fixture GPU 80GB"},
    "versions": {"fla": "9.9"}, "rows": [
    {"name": "2x8/8192", "h_qk": 2, "h_v": 8, "seqlens": [8192], "ms": 0.3},
    {"name": "2x8/2048", "h_qk": 2, "h_v": 8, "seqlens": [2048], "ms": 0.06},
    {"name": "4x16/2048", "h_qk": 4, "h_v": 16, "seqlens": [2048], "ms": 0.08}]})";
  const ReportData d = load_report_data({kDir + "/bench_qla.json", kDir + "/bench_fla.json",
                                         (dir / "qla.json").string(), (dir / "fla.json").string()},
                                        {}, std::nullopt, "abc123");
  fs::remove_all(dir);
  const std::string md = render_markdown(d);
  // The main tables: the fixture's rows, ratios, versions and ceilings, as without the set.
  EXPECT_TRUE(
      has(md, "| 2/8 | 1x8192 | 0.125 | 0.200 | 0.500 | 4.000 | 0.250 | 2.00x | 4.00x | 32.00x |"))
      << md;
  EXPECT_TRUE(has(md, "\n×FLA over 2 shapes: geomean 1.73x (1.50x–2.00x), faster on 2 of 2.\n"));
  EXPECT_TRUE(has(md, "| fla | 0.5.2 |")) << md;
  EXPECT_FALSE(has(md, "feed |")) << md;
  EXPECT_TRUE(has(md, "| device-to-device copy (measured) | 2000 GB/s |")) << md;
  // 4/16 is the set's alone: no row of the main tables.
  EXPECT_GT(md.find("| 4/16 | 1x2048 |"), md.find("## Same-call comparison")) << md;
  // The set: 2/8 1x8192 0.3 / 0.1 = 3.00x, 1x2048 0.06 / 0.05 = 1.20x; 4/16 1x2048 by its
  // default, 0.08 / 0.04 = 2.00x; geomean (3 · 1.2 · 2)^(1/3) = 1.93x.
  EXPECT_TRUE(has(md, "## Same-call comparison `matrix-fla`\n")) << md;
  EXPECT_TRUE(has(md, "(qla, 2026-12-01, qla feed)`: the matrix with FLA\n")) << md;
  EXPECT_TRUE(has(md,
                  "graph mode. ×FLA over 3 shapes: geomean 1.93x (1.20x–3.00x), faster on 3 of "
                  "3.\n"))
      << md;
  EXPECT_TRUE(has(md,
                  "| heads (qk/v) | shapes | ×FLA: geomean (range), faster | closest |\n"
                  "|---|---|---|---|\n"
                  "| 2/8 | 2 | 1.90x (1.20x–3.00x), 2 of 2 | 1x2048 (1.20x) |\n"
                  "| 4/16 | 1 | 2.00x (2.00x–2.00x), 1 of 1 | 1x2048 (2.00x) |\n"))
      << md;
  EXPECT_TRUE(has(md, "| 2/8 | 1x8192 | 0.100 | – | 0.300 | 3.00x |\n")) << md;
  EXPECT_TRUE(has(md, "| 4/16 | 1x2048 | – | 0.040 | 0.080 | 2.00x |\n")) << md;
  EXPECT_EQ(d.date, "2026-12-01");
}

// A set's name is a non-empty string.
TEST(Report, AComparisonSetNeedsAName) {
  const fs::path dir =
      fs::temp_directory_path() / ("qla_report_set0_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "fla.json") << R"({"schema": "qla.bench.v1", "implementation": "fla",
    "set": "", "date": "2026-12-01", "device": {"name": "Fixture GPU 80GB"}, "rows": []})";
  EXPECT_THROW(load_report_data({(dir / "fla.json").string()}, {}, std::nullopt, "abc123"),
               UserError);
  fs::remove_all(dir);
}

// The o errors the bench documents carry (qla's validation, the baselines' errors) side by side;
// no table where none carries one.
TEST(Report, AccuracyOnTheBenchInputsSideBySide) {
  const fs::path dir = fs::temp_directory_path() / ("qla_report_acc_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "bench_qla.json") << R"({"schema": "qla.bench.v1", "date": "2026-11-30",
    "device": {"name": "Fixture GPU 80GB", "sm_count": 132}, "rows": [
    {"implementation": "qla-tuned", "mode": "graph", "h_qk": 2, "h_v": 8, "seqlens": [2048], "ms": 0.07,
     "validation": {"o": {"rel_fro": 0.0041}, "passed": true}},
    {"implementation": "qla-default", "mode": "graph", "h_qk": 2, "h_v": 8, "seqlens": [2048], "ms": 0.08,
     "validation": {"o": {"rel_fro": 0.0015}, "passed": true}},
    {"implementation": "qla-tuned", "mode": "graph", "h_qk": 2, "h_v": 8, "seqlens": [8192], "ms": 0.1,
     "validation": {"o": {"rel_fro": 0.0046}, "passed": true}}]})";
  std::ofstream(dir / "bench_flashqla.json") << R"({"schema": "qla.bench.v1", "implementation":
    "flashqla", "date": "2026-11-30", "device": {"name": "Fixture GPU 80GB", "sm_count": 132},
    "rows": [{"h_qk": 2, "h_v": 8, "seqlens": [2048], "ms": 0.069, "errors": {"o": 0.0044}}]})";
  const std::string md = render_markdown(
      load_report_data({(dir / "bench_qla.json").string(), (dir / "bench_flashqla.json").string()},
                       {}, std::nullopt, "abc123"));
  fs::remove_all(dir);
  EXPECT_TRUE(has(md, "| heads (qk/v) | tokens | qla tuned | qla default | FLA | FlashQLA |"))
      << md;
  EXPECT_TRUE(has(md, "| 2/8 | 1x2048 | 4.10e-03 | 1.50e-03 | – | 4.40e-03 |")) << md;
  EXPECT_TRUE(has(md, "| 2/8 | 1x8192 | 4.60e-03 | – | – | – |")) << md;
  EXPECT_TRUE(has(md,
                  "qla-tuned 4.1e-03–4.6e-03; qla-default 1.5e-03–1.5e-03; flashqla "
                  "4.4e-03–4.4e-03.\n"))
      << md;
  EXPECT_FALSE(has(render_markdown(fixture()), "Accuracy on the bench"));
}

// Cold rows that carry CUPTI's per-kernel medians get a "where the time goes" table, for the time
// the page calls ours; a malformed kernel list is named.
TEST(Report, PerKernelTimesOfTheColdRows) {
  const fs::path dir = fs::temp_directory_path() / ("qla_report_k_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto write = [&](const std::string& kernels) {
    std::ofstream(dir / "bench.json") << R"({"schema": "qla.bench.v1", "implementation": "qla",
      "date": "2026-11-29", "device": {"name": "Fixture GPU 80GB"}, "rows": [
      {"name": "2x8/8192", "implementation": "qla-default", "mode": "cold", "h_qk": 2, "h_v": 8,
       "seqlens": [8192], "ms": 0.5, "kernels": )" +
                                             kernels + R"(},
      {"name": "2x8/8192", "implementation": "qla-default", "mode": "graph", "h_qk": 2, "h_v": 8,
       "seqlens": [8192], "ms": 0.4}]})";
    return load_report_data({(dir / "bench.json").string()}, {}, std::nullopt, "abc123");
  };
  const std::string md = render_markdown(write(
      R"([{"name": "chunk_local_cumsum_kernel", "us": 11.4}, {"name": "fused_fwd_wgmma_kernel", "us": 250}])"));
  EXPECT_TRUE(has(md, "## Where the time goes")) << md;
  EXPECT_TRUE(
      has(md, "| 2/8 | 1x8192 | default | 0.500 | chunk_local_cumsum 11 · fused_fwd_wgmma 250 |"))
      << md;
  EXPECT_FALSE(has(render_markdown(fixture()), "Where the time goes")) << "no kernels, no table";
  EXPECT_THROW(write(R"({"name": "k"})"), UserError);
  EXPECT_THROW(write(R"([{"name": "k"}])"), UserError);
  fs::remove_all(dir);
}

// Graph rows that carry per-kernel times get their own table (the headline method), above the
// cold one when both have them; the graph table says that chained kernels overlap.
TEST(Report, PerKernelTimesOfTheGraphRows) {
  const fs::path dir = fs::temp_directory_path() / ("qla_report_g_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "bench.json") << R"({"schema": "qla.bench.v1", "implementation": "qla",
    "date": "2026-11-29", "device": {"name": "Fixture GPU 80GB"}, "rows": [
    {"name": "2x8/2048", "implementation": "qla-tuned", "mode": "graph", "h_qk": 2, "h_v": 8,
     "seqlens": [2048], "ms": 0.11, "kernels": [{"name": "build_work_list_kernel", "us": 3.2},
     {"name": "fused_fwd_wgmma_kernel", "us": 61.4}]},
    {"name": "2x8/2048", "implementation": "qla-tuned", "mode": "cold", "h_qk": 2, "h_v": 8,
     "seqlens": [2048], "ms": 0.30, "kernels": [{"name": "fused_fwd_wgmma_kernel", "us": 72}]}]})";
  const std::string md = render_markdown(
      load_report_data({(dir / "bench.json").string()}, {}, std::nullopt, "abc123"));
  const std::size_t graph = md.find("## Where the time goes (CUDA-graph mode");
  const std::size_t cold = md.find("## Where the time goes (cold mode");
  ASSERT_NE(graph, std::string::npos) << md;
  ASSERT_NE(cold, std::string::npos) << md;
  EXPECT_LT(graph, cold);
  EXPECT_NE(md.find("| 2/8 | 1x2048 | tuned | 0.110 | build_work_list 3 · fused_fwd_wgmma 61 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 2/8 | 1x2048 | tuned | 0.300 | fused_fwd_wgmma 72 |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("programmatic dependent launch"), std::string::npos) << md;
  fs::remove_all(dir);
}

// The correctness figures come from the GPU suite's record, not from prose.
TEST(Report, CorrectnessComesFromTheValidationRecord) {
  ReportData d = fixture();
  EXPECT_FALSE(has(render_markdown(d), "## Correctness"));
  d.validation = nlohmann::json::parse(R"({"schema": "qla.validation.v1", "date": "2026-11-29",
    "git_commit": "abc123", "device": {"name": "Fixture GPU 80GB"}, "bar": 0.005,
    "method": "relative Frobenius error against float64",
    "rows": [{"suite": "every config", "family": "gdn.fused_fwd_wgmma", "configs": "4", "cases": 6,
              "runs": 24, "worst_o": 0.00178, "worst_final_state": 0.000677, "card": "x"},
             {"suite": "keys |k| = 2", "family": "f", "configs": "1", "cases": 1, "runs": 1,
              "worst_o": null, "worst_final_state": null, "card": "x"},
             {"suite": "every config", "family": "gdn.state_pass", "configs": "16", "cases": 6,
              "runs": 192, "worst_final_state": 0.000221, "other": {"name": "M", "worst": 0.000141},
              "card": "x"}]})");
  check_validation_record(d.validation, "fixture");
  const std::string md = render_markdown(d);
  EXPECT_TRUE(has(md, "## Correctness")) << md;
  EXPECT_TRUE(
      has(md, "| every config | gdn.fused_fwd_wgmma | 4 | 6 | 24 | 1.78e-03 | 6.77e-04 | – |"))
      << md;
  // A non-finite error is recorded as null (JSON has no NaN) and shown as such.
  EXPECT_TRUE(has(md, "| keys |k| = 2 | f | 1 | 1 | 1 | non-finite | non-finite | – |")) << md;
  // An output a suite does not produce is absent ("–"); another output is named.
  EXPECT_TRUE(
      has(md, "| every config | gdn.state_pass | 16 | 6 | 192 | – | 2.21e-04 | M 1.41e-04 |"))
      << md;
  EXPECT_THROW(check_validation_record(nlohmann::json::parse(R"({"schema": "qla.bench.v1"})"), "x"),
               UserError);
  EXPECT_THROW(
      check_validation_record(nlohmann::json::parse(R"({"schema": "qla.validation.v1", "device": {},
                     "rows": [{"family": "f"}]})"),
                              "x"),
      UserError);
  EXPECT_THROW(
      check_validation_record(nlohmann::json::parse(R"({"schema": "qla.validation.v1", "device": {},
                     "rows": [{"family": "f", "other": {"worst": 1.0}}]})"),
                              "x"),
      UserError)
      << "other without a name";
}

TEST(Report, FloorsUseTheMeasuredCeilings) {
  const ReportData d = fixture();
  const Shape s{2, 8, {8192}};
  const double mem_ms = compulsory_bytes(s) / 2000e9 * 1e3;
  std::ostringstream want;
  want.precision(0);
  want << std::fixed << 100 * mem_ms / 0.125 << " %";
  EXPECT_TRUE(has(render_markdown(d), want.str())) << want.str();
  EXPECT_NEAR(compulsory_bytes(s), 43.5e6, 0.1e6);  // inputs once + outputs once, 2/8 1x8192
}

TEST(Report, PublishedNumbersAreComparedAsRatiosOverFla) {
  const std::string md = render_markdown(fixture());
  EXPECT_TRUE(has(md, "ratios over FLA only"));
  // Published H200: 0.3 / 0.1 = 3.00x beside ours 2.00x; the backward row is ignored.
  EXPECT_TRUE(has(md, "| 2/8 | 1x8192 | 2.00x | 3.00x |")) << md;
  EXPECT_FALSE(has(md, "9.0"));
}

TEST(Report, TuningSummaryFromTheStore) {
  ReportData d = fixture(true);
  d.space_sizes["gdn.fused_fwd"] = {72, 66};
  const std::string md = render_markdown(d);
  EXPECT_TRUE(has(md, "| gdn.fused_fwd | 72 (66) | 2 | 3 | 1 | 1 | 0 | 0 | 1 |")) << md;
  EXPECT_TRUE(has(md, "1.50x faster")) << md;
  EXPECT_TRUE(has(md, "| `gdn.fused_fwd c64.bv64` | 2 |")) << md;
  EXPECT_TRUE(has(md, "3.0 minutes")) << md;
}

TEST(Report, OnlyTheNewestWinnerOfAKernelAndProblemIsListed) {
  ReportData d = fixture(true);
  // An older winner of p1 (a superseded kernel source), decided before the current one.
  auto& winners = d.store["winners"];
  winners[0]["decided_at"] = "2026-11-29T08:00:00Z";
  winners.push_back({{"kernel", "gdn.fused_fwd"},
                     {"problem", "p1"},
                     {"config", "c32.bv128"},
                     {"median_us", 90.0},
                     {"default_median_us", 150.0},
                     {"decided_at", "2026-11-26T08:00:00Z"}});
  const std::string md = render_markdown(d);
  EXPECT_FALSE(has(md, "c32.bv128")) << md;
  EXPECT_TRUE(has(md, "| gdn.fused_fwd | p1 | `c64.bv64` | 100.0 | 150.0 | 1.50x faster |")) << md;
  EXPECT_TRUE(has(md, "kept in the store as history: 1.")) << md;
}

TEST(Report, TheChunkStepComesFromItsRecord) {
  ReportData d = fixture();
  EXPECT_FALSE(has(render_markdown(d), "The chunk step")) << "no record, no section";
  d.chunk_step = nlohmann::json::parse(R"({
    "schema": "qla.chunk_step.v1", "device": {"name": "Fixture GPU 80GB", "sm_count": 132},
    "git_commit": "abc123", "date": "2026-11-29", "method": "cycle probe",
    "rows": [{"h_qk": 16, "h_v": 64, "tokens": 32768, "stages": 2, "operands": "fp16", "ctas": 128,
              "waves": 1, "kernel_ms": 1.28, "step_us": 2.5, "role_order": ["state", "aux"],
              "roles": {"state": {"phase_order": ["U", "V_d"], "cycles_per_chunk": {"U": 603, "V_d": 489}},
                        "aux": {"phase_order": ["QK^T"], "cycles_per_chunk": {"QK^T": 300}}}}]})");
  check_chunk_step_record(d.chunk_step, "fixture");
  const std::string md = render_markdown(d);
  EXPECT_TRUE(has(md,
                  "| 16/64 | 1x32768 | forward | 2 | fp16 | 1.280 | 2.50 | – | U 603 · V_d 489 "
                  "(1092) | aux 300 |"))
      << "a record from before the clock was measured shows none\n"
      << md;
  d.chunk_step["rows"][0]["sm_mhz"] = 1544.6;
  EXPECT_TRUE(has(render_markdown(d), "| 1.280 | 2.50 | 1545 | U 603")) << render_markdown(d);
  EXPECT_TRUE(has(md, "(`chunk_step.json`, 2026-11-29, qla commit `abc123`): cycle probe.")) << md;
  nlohmann::json bad = d.chunk_step;
  bad["rows"][0].erase("step_us");
  EXPECT_THROW(check_chunk_step_record(bad, "bad.json"), UserError);
}

TEST(Report, BadInputsAreNamed) {
  const fs::path dir = fs::temp_directory_path() / "qla_report_test_bad";
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  const std::string not_json = write("x.json", "{oops");
  const std::string foreign = write("y.json", R"({"schema": "other"})");
  const std::string no_ms = write("z.json", R"({"schema": "qla.bench.v1", "implementation": "fla",
      "device": {"name": "G"}, "rows": [{"h_qk": 2, "h_v": 8, "seqlens": [8]}]})");
  for (const auto& f : {not_json, foreign, no_ms, (dir / "missing.json").string()}) {
    try {
      load_report_data({f}, {}, std::nullopt, "");
      ADD_FAILURE() << "accepted " << f;
    } catch (const UserError& e) {
      EXPECT_TRUE(has(e.what(), f)) << e.what();
    }
  }
  const std::string other_card =
      write("w.json", R"({"schema": "qla.bench.v1", "implementation": "fla",
      "device": {"name": "Other"}, "rows": []})");
  EXPECT_THROW(load_report_data({kDir + "/bench_qla.json", other_card}, {}, std::nullopt, ""),
               UserError);
}

TEST(Report, Slug) {
  EXPECT_EQ(slug("NVIDIA H100 80GB HBM3"), "nvidia-h100-80gb-hbm3");
  EXPECT_EQ(slug("  "), "unknown-gpu");
}

TEST(ReportCli, WritesThePageAndRefusesEmptyInput) {
  const fs::path out = fs::temp_directory_path() / "qla_report_test_out";
  fs::remove_all(out);
  const std::string cmd = std::string(QLA_BINARY) + " report --results " + kDir + " --out " +
                          out.string() + " --no-plots > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream page(out / "fixture-gpu-80gb.md");
  ASSERT_TRUE(page.good());
  std::stringstream ss;
  ss << page.rdbuf();
  EXPECT_TRUE(has(ss.str(), "2.00x"));

  const fs::path empty = fs::temp_directory_path() / "qla_report_test_empty";
  fs::create_directories(empty);
  const std::string bad = std::string(QLA_BINARY) + " report --results " + empty.string() +
                          " --out " + (empty / "out").string() + " 2> /dev/null";
  const int rc = std::system(bad.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  EXPECT_FALSE(fs::exists(empty / "out"));
}

}  // namespace
}  // namespace qla::report

namespace qla::report {
namespace {

/// Runs `argv` without a shell, with `env` added to the environment; its exit status.
int run_without_shell(std::vector<std::string> argv, const std::vector<std::string>& env) {
  const pid_t pid = fork();
  if (pid == 0) {
    for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The plot step passes paths to its child process as arguments, never through a shell: an --out
// with quotes and shell syntax reaches the script verbatim and runs nothing.
TEST(ReportCli, PathsReachThePlotScriptVerbatimWithoutAShell) {
  const fs::path dir = fs::temp_directory_path() / "qla_report_test_hostile";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path script = dir / "record_argv.py";
  std::ofstream(script) << "import sys\nopen(sys.argv[2] + '/argv.txt', 'w').write(sys.argv[2])\n";
  const std::string out = (dir / "r'; touch INJECTED; echo '$(touch INJECTED2)").string();
  const int rc = run_without_shell({QLA_BINARY, "report", "--results", kDir, "--out", out},
                                   {"QLA_PLOT_SCRIPT=" + script.string()});
  EXPECT_EQ(rc, 0);
  std::ifstream recorded(out + "/argv.txt");
  std::string got((std::istreambuf_iterator<char>(recorded)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, out) << "the script did not get --out as given";
  EXPECT_FALSE(fs::exists("INJECTED"));
  EXPECT_FALSE(fs::exists("INJECTED2"));
  EXPECT_FALSE(fs::exists(dir / "INJECTED"));
  // A missing script is reported, and the page is still written.
  const fs::path plain = dir / "plain";
  EXPECT_EQ(run_without_shell({QLA_BINARY, "report", "--results", kDir, "--out", plain.string()},
                              {"QLA_PLOT_SCRIPT=" + (dir / "missing.py").string()}),
            0);
  EXPECT_TRUE(fs::exists(plain / "fixture-gpu-80gb.md"));
}

}  // namespace
}  // namespace qla::report
