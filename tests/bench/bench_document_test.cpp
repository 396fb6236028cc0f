// The bench's qla.bench.v1 document, error metrics and rates; the document is read back through
// `qla report`'s own loader, so a schema drift between the two breaks this test.
#include "bench_document.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "chunk_step_record.hpp"
#include "report/report.hpp"

namespace qla::bench {
namespace {

namespace fs = std::filesystem;

std::uint16_t bf16_bits(float f) {  // exact for the values used here (few mantissa bits)
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return static_cast<std::uint16_t>(u >> 16);
}

TEST(BenchErrors, RelativeFrobeniusAndMaxAbs) {
  // x - ref = (0, 0.5, -1) against ref = (2, 0, 1): ‖d‖ = sqrt(1.25), ‖ref‖ = sqrt(5).
  const ErrorMetrics e = compare_f32({2.f, 0.5f, 0.f}, {2.f, 0.f, 1.f});
  EXPECT_NEAR(e.rel_fro, std::sqrt(1.25 / 5.0), 1e-12);
  EXPECT_DOUBLE_EQ(e.max_abs, 1.0);
  EXPECT_EQ(e.non_finite, 0);
  EXPECT_EQ(e.elements, 3);
  EXPECT_EQ(compare_f32({1.f, -3.f}, {1.f, -3.f}).rel_fro, 0.0);
}

TEST(BenchErrors, PoisonedElementsAreCountedNotAveraged) {
  const float nan = std::numeric_limits<float>::quiet_NaN(),
              inf = std::numeric_limits<float>::infinity();
  const ErrorMetrics e = compare_f32({nan, 1.f, inf}, {1.f, 1.f, 1.f});
  EXPECT_EQ(e.non_finite, 2);
  EXPECT_EQ(e.rel_fro, 0.0);
  Validation v;
  v.tolerance = 0.02;
  v.o = e;
  EXPECT_FALSE(v.passed()) << "NaNs must fail validation even when the finite part matches";
  v.o.non_finite = 0;
  EXPECT_TRUE(v.passed());
  v.ht.rel_fro = 0.03;
  EXPECT_FALSE(v.passed());
}

TEST(BenchErrors, Bf16ComparesDecodedValues) {
  // 0xffff (the poison pattern) is NaN; 1.5 and 1.0 differ by 0.5.
  EXPECT_TRUE(std::isnan(bf16_to_float(0xffff)));
  EXPECT_EQ(bf16_to_float(bf16_bits(1.5f)), 1.5f);
  const ErrorMetrics e =
      compare_bf16({bf16_bits(1.5f), 0xffff}, {bf16_bits(1.0f), bf16_bits(2.0f)});
  EXPECT_EQ(e.non_finite, 1);
  EXPECT_DOUBLE_EQ(e.max_abs, 0.5);
  EXPECT_NEAR(e.rel_fro, 0.5, 1e-12);
  EXPECT_THROW(compare_bf16({1}, {1, 2}), UserError);  // a prefix never passes for the whole
}

TEST(BenchRates, CompulsoryBytesOfTheHeadlineShapeMatchAnchors) {
  // 2/8 at 1x32768 moves 170,917,888 compulsory bytes (inputs read once, outputs written once);
  // at 1 ms that is 170.9 GB/s.
  const Shape s{select_heads("2x8")[0], select_seqs("1x32768")[0]};
  Ceilings c;
  c.copy_gbps = 2000;
  c.matmul_tflops = 800;
  const Rates r = rates_for(s, 1.0, c);
  EXPECT_NEAR(r.gbps, 170.917888, 1e-6);
  EXPECT_NEAR(r.copy_fraction, 170.917888 / 2000, 1e-9);
  // 512 chunks × 8 heads × (9.44 + 1.05) MFLOP ≈ 42.95 GFLOP → 42.95 TFLOP/s at 1 ms.
  EXPECT_NEAR(r.tflops, 42.95, 0.05);
  EXPECT_NEAR(r.matmul_fraction, r.tflops / 800, 1e-12);
  // Half the time, twice the rate; unknown ceilings give zero fractions.
  const Rates half = rates_for(s, 0.5, Ceilings{});
  EXPECT_NEAR(half.gbps, 2 * r.gbps, 1e-9);
  EXPECT_EQ(half.copy_fraction, 0.0);
  EXPECT_EQ(rates_for(s, 0.0, c).gbps, 0.0);
}

Row make_row(const Shape& s, const char* impl, const char* mode, double ms) {
  Row r;
  r.shape = s;
  r.implementation = impl;
  r.mode = mode;
  r.ms = ms;
  r.samples = 10;
  r.configs = {{"gdn.naive_fwd", "bv32"}};
  r.validation.against = kImplNaive;
  r.validation.tolerance = 0.02;
  r.validation.o.rel_fro = 0.004;
  return r;
}

TEST(BenchDocument, ReportReadsWhatTheBenchWrites) {
  const Shape a{select_heads("2x8")[0], select_seqs("1x8192")[0]};
  const Shape b{select_heads("16x64")[0], select_seqs("4096+4096")[0]};
  Document d;
  d.device = {{"name", "Test GPU 80GB"}, {"sm_count", 132}};
  d.date = "2026-11-26";
  d.versions = {{"qla", "0.1.0"}};
  d.ceilings.copy_gbps = 2400;
  d.ceilings.matmul_tflops = 770;
  d.method = "test";
  // Graph rows come first here: the writer must still leave the graph time as the one a
  // per-implementation reader keeps.
  d.rows.push_back(make_row(a, kImplDefault, kModeGraph, 0.2));
  d.rows.push_back(make_row(a, kImplDefault, kModeCold, 0.3));
  d.rows.push_back(make_row(a, kImplNaive, kModeGraph, 4.0));
  d.rows.push_back(make_row(b, kImplUnfused, kModeCold, 0.9));
  d.skipped.push_back({b, kImplTuned, "no tuning store (--db)"});

  const fs::path dir = fs::temp_directory_path() / ("qla_bench_doc_" + std::to_string(::getpid()));
  const std::string path = (dir / "nested" / "bench.json").string();
  write_document(d, path);
  ASSERT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  const report::ReportData rd = report::load_report_data({path}, {}, std::nullopt, "");
  EXPECT_EQ(rd.gpu, "Test GPU 80GB");
  EXPECT_EQ(rd.date, "2026-11-26");
  EXPECT_DOUBLE_EQ(rd.copy_gbps, 2400);
  EXPECT_DOUBLE_EQ(rd.matmul_tflops, 770);
  const report::Shape ra{2, 8, {8192}}, rb{16, 64, {4096, 4096}};
  const auto& graph = rd.timings.at("graph");
  const auto& cold = rd.timings.at("cold");
  ASSERT_EQ(graph.count(ra), 1u);
  EXPECT_DOUBLE_EQ(graph.at(ra).at("qla-default").ms, 0.2);
  EXPECT_EQ(graph.at(ra).at("qla-default").mode, "graph");
  EXPECT_DOUBLE_EQ(graph.at(ra).at("naive").ms, 4.0);
  EXPECT_DOUBLE_EQ(cold.at(rb).at("unfused").ms, 0.9);
  EXPECT_EQ(cold.at(rb).at("unfused").mode, "cold");
  EXPECT_EQ(cold.at(rb).count("qla-tuned"), 0u) << "skipped rows carry no time";
  EXPECT_EQ(graph.count(rb), 0u) << "a cold-only shape has no graph row";

  std::ifstream in(path);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("schema"), "qla.bench.v1");
  ASSERT_EQ(j.at("rows").size(), 4u);
  EXPECT_EQ(j["rows"][0]["mode"], "cold");
  EXPECT_EQ(j["rows"][3]["mode"], "graph");
  EXPECT_EQ(j["rows"][0]["validation"]["passed"], true);
  EXPECT_EQ(j["rows"][0]["configs"]["gdn.naive_fwd"], "bv32");
  EXPECT_EQ(j["skipped"][0]["reason"], "no tuning store (--db)");
  EXPECT_EQ(j["skipped"][0]["implementation"], "qla-tuned");
  fs::remove_all(dir);
}

TEST(BenchDocument, ATunedPlanWithoutTunedRowsIsTheDefault) {
  EXPECT_TRUE(found_no_tuned_rows({{"gdn.cumsum", "heuristic"}, {"gdn.fwd_plan", "heuristic"}}));
  EXPECT_TRUE(
      found_no_tuned_rows({{"gdn.kkt_solve", "heuristic"}, {"knob", "not in the catalog"}}));
  EXPECT_FALSE(found_no_tuned_rows({{"gdn.cumsum", "heuristic"}, {"gdn.kkt_solve", "nearest"}}));
  EXPECT_FALSE(found_no_tuned_rows({{"gdn.fwd_plan", "exact"}}));
  EXPECT_FALSE(found_no_tuned_rows({{"gdn.fused_fwd_wgmma", "same_arch"}}));
}

TEST(BenchDocument, KernelNamesLoseNamespacesTemplatesAndParameters) {
  EXPECT_EQ(
      kernel_base_name("void qla::gdn::fused_fwd_wgmma_kernel<2, __nv_bfloat16, __half, float, "
                       "qla::cuda::NoProbe>(qla::gdn::FusedFwdWgmmaParams)"),
      "fused_fwd_wgmma_kernel");
  EXPECT_EQ(kernel_base_name("qla::gdn::work_list_kernel(qla::gdn::WorkListParams)"),
            "work_list_kernel");
  EXPECT_EQ(kernel_base_name("_ZN3qla3gdn22fused_fwd_wgmma_kernelILi2E13__nv_bfloat16EEvNS0_1PE"),
            "fused_fwd_wgmma_kernel");
  EXPECT_EQ(kernel_base_name("_Z6kernelPf"), "kernel");
  EXPECT_EQ(kernel_base_name("plain"), "plain");
  EXPECT_EQ(kernel_base_name("_ZN99short"), "_ZN99short") << "a length past the end is not parsed";
  EXPECT_EQ(kernel_base_name(""), "");
}

TEST(BenchDocument, RowsOfBothModesCarryPerKernelTimesInLaunchOrder) {
  const Shape a{select_heads("2x8")[0], select_seqs("1x8192")[0]};
  for (const char* mode : {kModeCold, kModeGraph}) {
    SCOPED_TRACE(mode);
    Row r = make_row(a, kImplDefault, mode, 0.3);
    r.kernels_us = {{"work_list_kernel", 2.5}, {"fused_fwd_wgmma_kernel", 250.0}};
    const nlohmann::json j = to_json(r);
    ASSERT_TRUE(j.contains("kernels"));
    ASSERT_EQ(j["kernels"].size(), 2u);
    EXPECT_EQ(j["kernels"][0]["name"], "work_list_kernel");
    EXPECT_DOUBLE_EQ(j["kernels"][1]["us"].get<double>(), 250.0);
  }
  EXPECT_FALSE(to_json(make_row(a, kImplDefault, kModeGraph, 0.2)).contains("kernels"))
      << "no kernels key where CUPTI recorded none";
}

// The chunk-step record: rows accumulate over invocations (one shape each), a rerun of a shape
// replaces its row, another commit starts a new record, and `qla report`'s check accepts it.
TEST(ChunkStepRecord, RowsAccumulateAndReplace) {
  const fs::path dir = fs::temp_directory_path() / ("qla_chunk_step_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string path = (dir / "chunk_step.json").string();
  auto row = [](int hv, const char* operands, double step) {
    ChunkStepRow r;
    r.h_qk = 2;
    r.h_v = hv;
    r.tokens = 32768;
    r.stages = 2;
    r.operands = operands;
    r.ctas = 2 * hv;
    r.waves = 1;
    r.kernel_ms = step * 0.512;
    r.step_us = step;
    r.sm_mhz = 1600.0 + hv;
    r.warm_ms = 500;
    r.roles = {{"state", {{"U", 600.0}, {"V_d", 500.0}}}, {"aux", {{"QK^T", 300.0}}}};
    return r;
  };
  const ChunkStepContext ctx{"Fixture GPU", 132, "abc123", "2026-11-29"};
  append_chunk_step_rows(path, ctx, {row(8, "fp16", 2.5), row(8, "bf16", 1.9)});
  ChunkStepRow state = row(8, "fp16", 1.1);
  state.pass = "state";  // the state pass of the same shape is a row of its own
  append_chunk_step_rows(path, ctx, {row(64, "fp16", 2.4), row(8, "fp16", 2.2), state});
  auto read = [&] {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
  };
  nlohmann::json doc = read();
  EXPECT_NO_THROW(report::check_chunk_step_record(doc, path));
  ASSERT_EQ(doc["rows"].size(), 4u);
  EXPECT_EQ(doc["rows"][0]["step_us"].get<double>(), 2.2);  // the rerun replaced it in place
  EXPECT_EQ(doc["rows"][2]["h_v"].get<int>(), 64);
  EXPECT_EQ(doc["rows"][2]["sm_mhz"].get<double>(), 1664.0);
  EXPECT_EQ(doc["rows"][2]["warm_ms"].get<int>(), 500);
  EXPECT_EQ(doc["rows"][3]["pass"].get<std::string>(), "state");
  EXPECT_EQ(doc["rows"][3]["step_us"].get<double>(), 1.1);
  EXPECT_EQ(doc["rows"][0]["roles"]["state"]["cycles_per_chunk"]["U"].get<double>(), 600.0);
  EXPECT_EQ(doc["rows"][0]["roles"]["state"]["phase_order"][1].get<std::string>(), "V_d");
  EXPECT_EQ(doc["device"]["name"].get<std::string>(), "Fixture GPU");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  append_chunk_step_rows(path, {"Fixture GPU", 132, "def456", "2026-11-30"}, {row(8, "fp16", 2.0)});
  doc = read();
  EXPECT_EQ(doc["rows"].size(), 1u) << "another commit starts a new record";
  EXPECT_EQ(doc["git_commit"].get<std::string>(), "def456");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qla::bench
