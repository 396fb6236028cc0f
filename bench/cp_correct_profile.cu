// qla_cp_correct_profile: where the CP correction's step goes. It instantiates gdn.cp_correct with
// a cycle probe (common/cycle_probe.cuh) that sums clock64() cycles per phase of the serial walk
// over the pieces (CpCorrectProbe: the step's head, the wait for M and the running state, the
// multiply, the combine of the parts) for warp 0 and the CTA's last warp, runs it on synthetic
// inputs of one raw sequence cut into --pieces pieces that all fall back (every step multiplies by
// its M; timing does not depend on the values), and prints, per config, the kernel time (CUDA
// events, mean over the launches), the time per step it implies and the cycles of every phase per
// step averaged over the CTAs. The library's kernels carry no probe; this binary's instantiations
// are its own (the probe is a template argument).
//   qla_cp_correct_profile --heads 8 --pieces 16
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

#include "cp_correct_profile.hpp"
#include "cycle_sum_probe.cuh"
#include "gdn/cp_correct.cuh"
#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/error.hpp"
#include "qla/gdn/cp_m_map.hpp"

namespace {

using qla::gdn::CpCorrectProbe;
using CycleProbe = qla::bench::CycleSumProbe<CpCorrectProbe>;

const char* const kPhaseNames[CpCorrectProbe::kPhases] = {"head", "wait", "multiply", "combine"};

template <int BV, int kStageM, int kSplitK, int kRowsPerThread>
void profile(const qla::bench::CpCorrectProfileRun& run) {
  const int heads = run.heads, pieces = run.pieces, iters = run.iters;
  constexpr long long kState = qla::gdn::kCpStateRows * 128;  // K x V floats
  const long long states = static_cast<long long>(pieces) * heads;
  qla::cuda::DeviceBuffer ht(states * kState * 4), cp_h0(states * kState * 4),
      m(states * qla::gdn::kCpStateRows * qla::gdn::kCpStateRows * 4);
  qla::bench::fill_constant<<<1024, 256>>>(ht.as<float>(), states * kState, 0.01f);
  // A contraction: M = 0.5 / 128 everywhere keeps the running state bounded.
  qla::bench::fill_constant<<<1024, 256>>>(m.as<float>(), states * qla::gdn::kCpStateRows * 128,
                                           0.5f / 128);
  QLA_CUDA_CHECK(cudaGetLastError());
  const auto fallback = qla::cuda::DeviceBuffer::from_host(std::vector<int>(states, 1));
  const auto first_piece = qla::cuda::DeviceBuffer::from_host(std::vector<int>{0, pieces});
  qla::gdn::CpCorrectParams p{};
  p.h0 = nullptr;
  p.ht = ht.as<const float>();
  p.m = m.as<const float>();
  p.fallback = fallback.as<const int>();
  p.raw_first_piece = first_piece.as<const int>();
  p.cp_h0 = cp_h0.as<float>();
  p.heads = heads;
  if (kStageM == 2)
    p.m_map = qla::cuda::encode_tensor_map(qla::gdn::cp_correct_m_map_desc(p.m, states));

  const dim3 grid(run.grid[0], run.grid[1], run.grid[2]), block(run.block);
  const int smem = run.smem;
  const int ctas = static_cast<int>(run.grid[0] * run.grid[1] * run.grid[2]);
  auto* plain = &qla::gdn::cp_correct_states_kernel<BV, kStageM, kSplitK, kRowsPerThread>;
  auto* probed =
      &qla::gdn::cp_correct_states_kernel<BV, kStageM, kSplitK, kRowsPerThread, CycleProbe>;
  for (auto* f : {plain, probed})
    QLA_CUDA_CHECK(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));

  cudaEvent_t e0, e1;
  QLA_CUDA_CHECK(cudaEventCreate(&e0));
  QLA_CUDA_CHECK(cudaEventCreate(&e1));
  plain<<<grid, block, smem>>>(p);  // warm-up
  QLA_CUDA_CHECK(cudaEventRecord(e0));
  for (int i = 0; i < iters; ++i) plain<<<grid, block, smem>>>(p);
  QLA_CUDA_CHECK(cudaEventRecord(e1));
  QLA_CUDA_CHECK(cudaEventSynchronize(e1));
  float ms = 0;
  QLA_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));

  const qla::cuda::DeviceBuffer counters = qla::bench::cycle_counters<CpCorrectProbe>(ctas);
  probed<<<grid, block, smem>>>(p);
  QLA_CUDA_CHECK(cudaDeviceSynchronize());
  const std::vector<unsigned long long> host = counters.to_host<unsigned long long>();
  QLA_CUDA_CHECK(cudaEventDestroy(e0));
  QLA_CUDA_CHECK(cudaEventDestroy(e1));

  const double us = 1e3 * ms / iters;
  std::printf("bv%d.ms%d.sk%d.rt%d  %d CTAs  %.1f us per call, %.2f us per step\n", BV, kStageM,
              kSplitK, kRowsPerThread, ctas, us, us / pieces);
  for (int role = 0; role < CpCorrectProbe::kRoles; ++role) {
    std::printf("  %-9s", role == 0 ? "warp 0" : "last warp");
    double total = 0;
    for (int ph = 0; ph < CpCorrectProbe::kPhases; ++ph) {
      double sum = 0;
      for (int cta = 0; cta < ctas; ++cta)
        sum += static_cast<double>(
            host[(cta * CpCorrectProbe::kRoles + role) * CpCorrectProbe::kPhases + ph]);
      const double per_step = sum / ctas / pieces;
      total += per_step;
      std::printf("  %s %.0f", kPhaseNames[ph], per_step);
    }
    // At the clock the loop ran at (its cycles over its %globaltimer nanoseconds).
    const double mhz = qla::bench::loop_clock_mhz<CpCorrectProbe>(host, ctas, role);
    std::printf("  = %.0f cycles per step (%.2f us at %.0f MHz)\n", total,
                mhz > 0 ? total / mhz : 0.0, mhz);
  }
}

}  // namespace

namespace qla::bench {

void profile_cp_correct(const CpCorrectProfileRun& run) {
  const auto& c = run.config;
  if (c.block_v == 8 && c.stage_m == 2 && c.split_k == 1 && c.rows_per_thread == 1)
    profile<8, 2, 1, 1>(run);
  else if (c.block_v == 8 && c.stage_m == 2 && c.split_k == 4 && c.rows_per_thread == 1)
    profile<8, 2, 4, 1>(run);
  else if (c.block_v == 8 && c.stage_m == 1 && c.split_k == 4 && c.rows_per_thread == 1)
    profile<8, 1, 4, 1>(run);
  else if (c.block_v == 8 && c.stage_m == 1 && c.split_k == 1 && c.rows_per_thread == 4)
    profile<8, 1, 1, 4>(run);
  else if (c.block_v == 8 && c.stage_m == 1 && c.split_k == 1 && c.rows_per_thread == 1)
    profile<8, 1, 1, 1>(run);
  else if (c.block_v == 8 && !c.stage_m == 1 && c.split_k == 4 && c.rows_per_thread == 1)
    profile<8, 0, 4, 1>(run);
  else if (c.block_v == 16 && c.stage_m == 1 && c.split_k == 4 && c.rows_per_thread == 1)
    profile<16, 1, 4, 1>(run);
  else if (c.block_v == 8 && c.stage_m == 1 && c.split_k == 2 && c.rows_per_thread == 16)
    profile<8, 1, 2, 16>(run);
  else
    throw UserError("qla_cp_correct_profile: no probe instantiation of this config");
}

}  // namespace qla::bench
