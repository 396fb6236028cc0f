// qla_kkt_solve_profile: where kkt_solve's time goes, on synthetic inputs of one shape (one
// sequence; timing does not depend on the values: uniform keys, β = 0.5, a constant gate). Per
// config it prints the kernel time (CUDA events, mean over the launches): the b16 configs (block
// rows, a warp per value head, on a persistent grid as the op launches them) their time only; the
// b32 configs (doubling across the CTA) also the cycles of each phase from a cycle-probe
// instantiation (common/cycle_probe.cuh, KktSolveProbe: the prologue once per CTA, then the head's
// first barrier, the warp-local inversions, the two merge passes and the store per value head) for
// warp 0 and the CTA's last warp, averaged over the CTAs. The library's kernels carry no probe;
// this binary's instantiations are its own (the probe is a template argument).
//   qla_kkt_solve_profile --hqk 16 --hv 64 --tokens 32768
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cycle_sum_probe.cuh"
#include "gdn/kkt_solve.cuh"
#include "gdn/kkt_solve_rows.cuh"
#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/error.hpp"

namespace {

using qla::gdn::KktSolveProbe;
using CycleProbe = qla::bench::CycleSumProbe<KktSolveProbe>;

__global__ void fill_keys(__nv_bfloat16* x, long long n, unsigned seed) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) {
    unsigned h = static_cast<unsigned>(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    // Uniform in ±0.15: a 128-vector of norm about 1, like an l2-normalised key.
    x[i] = __float2bfloat16(0.15f * (static_cast<float>(h & 0xffffu) / 32768.f - 1.f));
  }
}

const char* const kPhaseNames[KktSolveProbe::kPhases] = {"prologue", "start",   "local",
                                                         "merge 0",  "merge 1", "store"};

struct Shape {
  int hqk, hv;
  long long tokens;
};

template <int kChunk, int kBlock, int kWarps, bool kPerValueHead>
void profile(const Shape& sh, int iters) {
  using T = __nv_bfloat16;
  constexpr bool kFuseCumsum = true;  // as every tuned plan on the H200 runs it
  constexpr int kD = 128;
  const long long rows = sh.tokens;
  const int chunks = static_cast<int>((rows + kChunk - 1) / kChunk);
  qla::cuda::DeviceBuffer k(rows * sh.hqk * kD * 2), a(rows * sh.hv * kChunk * 2),
      beta(rows * sh.hv * 4), g_in(rows * sh.hv * 4), g_out(rows * sh.hv * 4), error(4);
  fill_keys<<<1024, 256>>>(k.as<T>(), rows * sh.hqk * kD, 7);
  qla::bench::fill_constant<<<1024, 256>>>(beta.as<float>(), rows * sh.hv, 0.5f);
  qla::bench::fill_constant<<<1024, 256>>>(g_in.as<float>(), rows * sh.hv, -0.02f);
  QLA_CUDA_CHECK(cudaGetLastError());
  std::vector<int> index;
  for (int c = 0; c < chunks; ++c) index.insert(index.end(), {0, c});
  const auto cu = qla::cuda::DeviceBuffer::from_host(std::vector<int>{0, static_cast<int>(rows)});
  const auto chunk_index = qla::cuda::DeviceBuffer::from_host(index);
  const auto chunk_offset = qla::cuda::DeviceBuffer::from_host(std::vector<int>{0, chunks});

  const auto tokens = [&](const qla::cuda::DeviceBuffer& b, int heads, int dim) {
    return qla::gdn::TokenTensor{b.as<void>(), rows * heads * dim,
                                 static_cast<long long>(heads) * dim, dim};
  };
  qla::gdn::KktSolveParams p{};
  p.k = tokens(k, sh.hqk, kD);
  p.beta = tokens(beta, sh.hv, 1);
  p.a = tokens(a, sh.hv, kChunk);
  p.seq = {cu.as<const int>(),
           chunk_index.as<const int>(),
           chunk_offset.as<const int>(),
           1,
           chunks,
           rows,
           rows};
  p.heads_v = sh.hv;
  p.group = sh.hv / sh.hqk;
  p.error = error.as<int>();
  p.g_in = tokens(g_in, sh.hv, 1);
  p.g_out = tokens(g_out, sh.hv, 1);
  p.g_dtype = qla::gdn::kKktGateF32;

  const int items = chunks * (kPerValueHead ? sh.hv : sh.hqk);
  cudaEvent_t e0, e1;
  QLA_CUDA_CHECK(cudaEventCreate(&e0));
  QLA_CUDA_CHECK(cudaEventCreate(&e1));
  // Mean time of `iters` launches of f over `ctas` CTAs (after one warm-up launch).
  const auto time = [&](auto* f, int ctas, int smem) {
    QLA_CUDA_CHECK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    f<<<ctas, kWarps * 32, smem>>>(p);
    QLA_CUDA_CHECK(cudaEventRecord(e0));
    for (int i = 0; i < iters; ++i) f<<<ctas, kWarps * 32, smem>>>(p);
    QLA_CUDA_CHECK(cudaEventRecord(e1));
    QLA_CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    QLA_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    return 1e3 * ms / iters;
  };
  const char* const label = kPerValueHead ? "vh1" : "vh0";
  if constexpr (kBlock == 16) {  // block rows, a warp per value head: its time, no phases
    int sms = 0;
    QLA_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    auto* f =
        &qla::gdn::kkt_solve_rows_kernel<kChunk, kWarps, T, float, kPerValueHead, kFuseCumsum>;
    const int smem = qla::gdn::kkt_rows_layout(kChunk, kWarps).bytes;
    QLA_CUDA_CHECK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    int per_sm = 0;  // as kkt_solve_shape's persistent grid (kkt_solve_resident_ctas)
    QLA_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, kWarps * 32, smem));
    const int ctas = std::min(items, sms * per_sm);
    const double us = time(f, ctas, smem);
    std::printf("c%d.b%d.w%d.%s.cs1  %d CTAs over %d items  %.1f us per call\n", kChunk, kBlock,
                kWarps, label, ctas, items, us);
  } else {  // doubling across the CTA: its time, then the cycle probe's phases
    const int ctas = items;
    const int smem = qla::gdn::kkt_solve_layout(kChunk).bytes;
    const double us = time(
        &qla::gdn::kkt_solve_kernel<kChunk, kBlock, kWarps, T, float, kPerValueHead, kFuseCumsum>,
        ctas, smem);
    auto* probed = &qla::gdn::kkt_solve_kernel<kChunk, kBlock, kWarps, T, float, kPerValueHead,
                                               kFuseCumsum, CycleProbe>;
    QLA_CUDA_CHECK(cudaFuncSetAttribute(probed, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    const qla::cuda::DeviceBuffer counters = qla::bench::cycle_counters<KktSolveProbe>(ctas);
    probed<<<ctas, kWarps * 32, smem>>>(p);
    QLA_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<unsigned long long> host = counters.to_host<unsigned long long>();
    const int heads_per_cta = kPerValueHead ? 1 : sh.hv / sh.hqk;
    std::printf("c%d.b%d.w%d.%s.cs1  %d CTAs  %.1f us per call\n", kChunk, kBlock, kWarps, label,
                ctas, us);
    for (int role = 0; role < KktSolveProbe::kRoles; ++role) {
      std::printf("  %-9s", role == 0 ? "warp 0" : "last warp");
      for (int ph = 0; ph < KktSolveProbe::kPhases; ++ph) {
        double sum = 0;
        for (int c = 0; c < ctas; ++c) sum += static_cast<double>(host[(c * 2 + role) * 6 + ph]);
        // The prologue once per CTA, every other phase once per value head.
        const double per = sum / ctas / (ph == KktSolveProbe::kPrologue ? 1 : heads_per_cta);
        std::printf("  %s %.0f", kPhaseNames[ph], per);
      }
      std::printf("  (cycles; per CTA for the prologue, per value head otherwise)\n");
    }
  }
  QLA_CUDA_CHECK(cudaEventDestroy(e0));
  QLA_CUDA_CHECK(cudaEventDestroy(e1));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Cycles per phase of gdn.kkt_solve (a cycle-probe instantiation), per config"};
  Shape sh{16, 64, 32768};
  int iters = 20;
  app.add_option("--hqk", sh.hqk, "query/key heads")->check(CLI::PositiveNumber);
  app.add_option("--hv", sh.hv, "value heads (a multiple of --hqk)")->check(CLI::PositiveNumber);
  app.add_option("--tokens", sh.tokens, "tokens of the one sequence")->check(CLI::PositiveNumber);
  app.add_option("--iters", iters, "timed launches per config")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    QLA_REQUIRE(sh.hv % sh.hqk == 0, "--hv must be a multiple of --hqk");
    std::printf("kkt_solve, %d/%d heads, 1x%lld tokens\n", sh.hqk, sh.hv, sh.tokens);
    profile<64, 16, 4, false>(sh, iters);
    profile<64, 16, 8, false>(sh, iters);
    profile<64, 16, 1, false>(sh, iters);
    profile<64, 16, 2, false>(sh, iters);
    profile<64, 16, 4, true>(sh, iters);
    profile<64, 32, 4, false>(sh, iters);
    profile<64, 32, 8, false>(sh, iters);
    profile<64, 32, 4, true>(sh, iters);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qla_kkt_solve_profile: %s\n", e.what());
    return 1;
  }
  return 0;
}
