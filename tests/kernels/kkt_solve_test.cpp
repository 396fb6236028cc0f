// kkt_solve on the GPU: every config against the float64 inverse (I + StrictLower(diag(β) K Kᵀ))⁻¹
// on the standard edge cases; outputs poisoned before each run, rows that belong to no sequence
// stay untouched; a second run is bit-identical.
#include "qla/gdn/kkt_solve.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fused_test_util.hpp"
#include "gpu_guard.hpp"
#include "qla/gdn/cumsum.hpp"
#include "validation_record.hpp"

namespace qla::test {
namespace {

using gdn::KktSolveConfig;

TEST(KktSolve, EveryConfigMatchesFloat64Inverse) {
  QLA_REQUIRE_GPU();
  const auto dev = cuda::current_device();
  const auto& space = gdn::kkt_solve_space();
  const auto points = space.enumerate(&dev->arch);
  std::vector<cuda::KernelSpec> specs;
  for (const auto& pt : points) {
    specs.push_back(gdn::kkt_solve_spec(KktSolveConfig::from_point(pt), DType::kBF16, DType::kF32));
    specs.push_back(gdn::kkt_solve_spec(KktSolveConfig::from_point(pt), DType::kF16, DType::kF32));
  }
  for (const auto& f : precompile(specs)) ADD_FAILURE() << f;
  double worst = 0;
  int runs = 0;
  // A CTA per value head (vh1) computes each head's inverse the way a CTA per query/key head (vh0)
  // does, and fusing the gate's cumsum (cs1) leaves the inverse alone, so all four give the same
  // bits: (chunk, block, warps, dtype, case) → A_r of the first seen, and how many matched it.
  std::map<std::string, std::pair<std::vector<std::uint16_t>, int>> bits_by_point;
  int fused_runs = 0;
  for (const auto& pt : points) {
    const auto c = KktSolveConfig::from_point(pt);
    double cw = 0;
    for (bool bf16 : {true, false}) {
      const auto cases = standard_cases();
      for (std::size_t ci = 0; ci < cases.size(); ++ci) {
        const auto& cs = cases[ci];
        SCOPED_TRACE(space.label(pt) + (bf16 ? " bf16 " : " fp16 ") + cs.name);
        const auto p = make_problem(cs, bf16, 11 + static_cast<unsigned>(ci));
        const auto ref = reference_a(p, c.chunk);
        // With the work list's padding entries, which cs1 zeroes in g_cum as the cumsum kernel
        // does.
        DeviceSeq seq(p, c.chunk, /*padding_entries=*/true);
        auto k = cuda::DeviceBuffer::from_host(p.k16), b = cuda::DeviceBuffer::from_host(p.beta32);
        cuda::DeviceBuffer a(ref.size() * 2);
        gdn::KktSolveParams prm{};
        prm.k = token_tensor(k.get(), p, p.c.h_qk, kD);
        prm.beta = token_tensor(b.get(), p, p.c.h_v, 1);
        prm.a = token_tensor(a.get(), p, p.c.h_v, c.chunk);
        prm.seq = seq.view;
        prm.heads_v = p.c.h_v;
        prm.group = p.c.h_v / p.c.h_qk;
        ASSERT_EQ(gdn::check_params(prm), "");
        // cs1: the gate's chunk-local cumsum as well, against the cumsum kernel's bits on the same
        // gate (bf16 gates with bf16 q/k/v, fp32 ones with fp16), both outputs poisoned alike.
        const DType gate = bf16 ? DType::kBF16 : DType::kF32;
        std::vector<float> g32(p.g.begin(), p.g.end());
        std::vector<std::uint16_t> g16(g32.size());
        for (std::size_t i = 0; i < g32.size(); ++i) g16[i] = to_bits16(g32[i], true);
        auto g_in = bf16 ? cuda::DeviceBuffer::from_host(g16) : cuda::DeviceBuffer::from_host(g32);
        cuda::DeviceBuffer g_want(g32.size() * 4), g_got(g32.size() * 4);
        if (c.fuse_cumsum) {
          QLA_CUDA_CHECK(cudaMemset(g_want.get(), 0xFF, g_want.bytes()));
          QLA_CUDA_CHECK(cudaMemset(g_got.get(), 0xFF, g_got.bytes()));
          const gdn::ChunkCumsumParams cp{token_tensor(g_in.get(), p, p.c.h_v, 1),
                                          token_tensor(g_want.get(), p, p.c.h_v, 1), seq.view,
                                          p.c.h_v};
          if (seq.view.num_chunks > 0)
            cuda::KernelCache::global()
                .get(gdn::cumsum_spec({c.chunk}, false, gate))
                .launch(gdn::cumsum_shape({c.chunk}, seq.view.num_chunks, p.c.h_v), &cp, nullptr);
          prm.g_in = token_tensor(g_in.get(), p, p.c.h_v, 1);
          prm.g_out = token_tensor(g_got.get(), p, p.c.h_v, 1);
          prm.g_dtype = bf16 ? gdn::kKktGateBF16 : gdn::kKktGateF32;
        }
        const auto& kernel = cuda::KernelCache::global().get(
            gdn::kkt_solve_spec(c, bf16 ? DType::kBF16 : DType::kF16, DType::kF32));
        std::vector<std::uint16_t> first, got(ref.size());
        // The second run on a grid of 3 CTAs (b16: each CTA takes work items in turn).
        for (int rep = 0; rep < 2; ++rep) {
          QLA_CUDA_CHECK(cudaMemset(a.get(), 0xFF, a.bytes()));
          if (seq.view.num_chunks > 0)
            kernel.launch(
                gdn::kkt_solve_shape(c, seq.view.num_chunks, p.c.h_qk, p.c.h_v, rep == 0 ? 0 : 3),
                &prm, nullptr);
          QLA_CUDA_CHECK(cudaDeviceSynchronize());
          QLA_CUDA_CHECK(cudaMemcpy(got.data(), a.get(), a.bytes(), cudaMemcpyDeviceToHost));
          if (rep == 0) first = got;
        }
        EXPECT_EQ(first, got) << "repeated runs differ";
        const std::string same = std::to_string(c.chunk) + "." + std::to_string(c.block) + "." +
                                 std::to_string(c.warps) + (bf16 ? ".bf16." : ".fp16.") + cs.name;
        auto& [bits, seen] = bits_by_point.emplace(same, std::pair{got, 0}).first->second;
        EXPECT_TRUE(bits == got) << "A_r differs from another CTA layout or cumsum fusion";
        ++seen;
        if (c.fuse_cumsum) {
          std::vector<std::uint32_t> want_g(g32.size()), got_g(g32.size());
          QLA_CUDA_CHECK(
              cudaMemcpy(want_g.data(), g_want.get(), g_want.bytes(), cudaMemcpyDeviceToHost));
          QLA_CUDA_CHECK(
              cudaMemcpy(got_g.data(), g_got.get(), g_got.bytes(), cudaMemcpyDeviceToHost));
          EXPECT_TRUE(want_g == got_g) << "the fused cumsum differs from the cumsum kernel's";
          ++fused_runs;
        }
        // Padding rows (after cu.back()) are never written: compare only sequence rows, expect
        // poison elsewhere.
        std::vector<double> want, have;
        long long poisoned = 0;
        for (long long t = 0; t < p.rows; ++t)
          for (int i = 0; i < p.c.h_v * c.chunk; ++i) {
            const std::size_t idx = t * p.c.h_v * c.chunk + i;
            if (t < p.cu.back()) {
              want.push_back(ref[idx]);
              have.push_back(from_bits16(got[idx], bf16));
            } else {
              poisoned += got[idx] == 0xFFFF;
            }
          }
        EXPECT_EQ(poisoned, (p.rows - p.cu.back()) * p.c.h_v * c.chunk);
        const double e = rel_fro(want, have);
        EXPECT_LE(e, 0.005);
        cw = std::max(cw, e);
        ++runs;
      }
    }
    std::printf("kkt_solve %-12s max rel err A_r %.2e\n", space.label(pt).c_str(), cw);
    worst = std::max(worst, cw);
  }
  std::printf("kkt_solve: %zu configs, %d runs, worst rel err %.2e\n", points.size(), runs, worst);
  for (const auto& [key, entry] : bits_by_point)
    EXPECT_EQ(entry.second, 4) << key << ": both CTA layouts, with and without the cumsum";
  EXPECT_EQ(fused_runs * 2, runs);
  test::ValidationRow row;
  row.suite = "every config, edge cases (bf16, fp16), against the float64 inverse";
  row.family = "gdn.kkt_solve";
  row.configs = std::to_string(points.size()) + " (all buildable)";
  row.cases = points.empty() ? 0 : runs / static_cast<int>(points.size());
  row.runs = runs;
  row.other = {{"A_r", worst}};
  test::record_validation(row);
}

}  // namespace
}  // namespace qla::test
