// qla_chunk_step_profile: where the wgmma chunk forward's chunk step goes. It instantiates
// gdn.fused_fwd_wgmma with a cycle probe (common/cycle_probe.cuh) that sums clock64() cycles per
// phase of each warpgroup's loop (FusedWgmmaProbe), runs it on synthetic inputs of one shape (the
// cycles do not depend on the values: q, k, v, A_r uniform, a chunk-local cumsum of a constant
// gate), and prints, per stage count and operand type, the kernel time, the chunk step it implies,
// the cycles per chunk of every phase averaged over the CTAs, and the SM clock the loops ran at
// (their cycles over their %globaltimer nanoseconds). --warm-ms of untimed launches come first, so
// the time is the one the card holds under sustained load, as in the op's bench: a card at its
// power limit runs below its boost clock. The library's kernels carry no probe; this binary's
// instantiations are its own (the probe is a template argument). --state-pass adds the
// state-only instantiation (the CP state pass on the same chain). With --json the rows are also
// added to a chunk-step record (qla.chunk_step.v1) that `qla report` quotes.
//   qla_chunk_step_profile --hqk 16 --hv 64 --tokens 32768 [--json results/<gpu>/chunk_step.json]
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_document.hpp"
#include "chunk_step_record.hpp"
#include "cycle_sum_probe.cuh"
#include "gdn/fused_fwd_wgmma.cuh"
#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/error.hpp"
#include "qla/gdn/fused_fwd_wgmma_launch.hpp"

namespace {

using qla::gdn::FusedWgmmaProbe;
using CycleProbe = qla::bench::CycleSumProbe<FusedWgmmaProbe>;

__global__ void fill_uniform16(__nv_bfloat16* x, long long n, float amp, unsigned seed) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) {
    unsigned h = static_cast<unsigned>(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    x[i] = __float2bfloat16(amp * (static_cast<float>(h & 0xffffu) / 32768.f - 1.f));
  }
}

__global__ void fill_gates(float* g, float* beta, long long tokens, int heads) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < tokens * heads; i += 256ll * gridDim.x) {
    const long long t = i / heads;
    g[i] = -0.02f * static_cast<float>(t % 64 + 1);  // chunk-local cumsum of g = -0.02
    beta[i] = 0.5f;
  }
}

const char* const kPhaseNames[FusedWgmmaProbe::kRoles][FusedWgmmaProbe::kPhases] = {
    {"wait slot", "issue", "", "", "", "", "", ""},
    {"wait inputs", "wait slot", "QK^T", "mask+stmatrix", "", "", "", ""},
    {"wait inputs", "U", "O1+W", "wait aux", "V_d", "pack", "S(+O2)", ""},
    {"wait tile", "copy", "", "", "", "", "", ""}};
const char* const kRoleNames[FusedWgmmaProbe::kRoles] = {"producer", "aux", "state", "store"};

struct Shape {
  int hqk, hv;
  long long tokens;
};

/// T, TM: the operand types of the products of inputs and of intermediates (fused_fwd_wgmma.cuh);
/// kStateOnly: the CP state pass on the same chain (every chunk from zero, S only: 2 CTAs per
/// head).
template <int kStages, class T, class TM, bool kStateOnly>
qla::bench::ChunkStepRow profile(const Shape& sh, int iters, int warm_ms) {
  using qla::gdn::FusedFwdParams;
  using TIn = __nv_bfloat16;
  constexpr int kD = 128;
  const long long rows = sh.tokens;
  qla::cuda::DeviceBuffer q(rows * sh.hqk * kD * 2), k(rows * sh.hqk * kD * 2),
      v(rows * sh.hv * kD * 2), a(rows * sh.hv * 64 * 2), o(rows * sh.hv * kD * 2),
      g(rows * sh.hv * 4), beta(rows * sh.hv * 4),
      cu(qla::cuda::DeviceBuffer::from_host(std::vector<int>{0, static_cast<int>(rows)}));
  fill_uniform16<<<1024, 256>>>(q.as<TIn>(), rows * sh.hqk * kD, 0.15f, 1);
  fill_uniform16<<<1024, 256>>>(k.as<TIn>(), rows * sh.hqk * kD, 0.15f, 2);
  fill_uniform16<<<1024, 256>>>(v.as<TIn>(), rows * sh.hv * kD, 1.f, 3);
  fill_uniform16<<<1024, 256>>>(a.as<TIn>(), rows * sh.hv * 64, 0.1f, 4);
  fill_gates<<<1024, 256>>>(g.as<float>(), beta.as<float>(), rows, sh.hv);
  QLA_CUDA_CHECK(cudaGetLastError());

  const auto tokens16 = [&](const qla::cuda::DeviceBuffer& b, int heads, int dim) {
    return qla::gdn::TokenTensor{b.as<void>(), rows * heads * dim,
                                 static_cast<long long>(heads) * dim, dim};
  };
  FusedFwdParams f{};
  f.q = tokens16(q, sh.hqk, kD);
  f.k = tokens16(k, sh.hqk, kD);
  f.v = tokens16(v, sh.hv, kD);
  f.a = tokens16(a, sh.hv, 64);
  f.o = tokens16(o, sh.hv, kD);
  f.g = tokens16(g, sh.hv, 1);
  f.beta = tokens16(beta, sh.hv, 1);
  f.seq.cu_seqlens = cu.as<const int>();
  f.seq.num_sequences = 1;
  f.seq.tokens_per_row = rows;
  f.seq.total_tokens = rows;
  f.heads_v = sh.hv;
  f.group = sh.hv / sh.hqk;
  f.scale = 0.08838834764831845f;
  qla::cuda::DeviceBuffer ht(static_cast<std::size_t>(sh.hv) * kD * kD * 4);
  if constexpr (kStateOnly) f.ht = ht.as<float>();  // the state pass's output
  const qla::gdn::FusedFwdWgmmaParams pw = qla::gdn::make_fused_wgmma_params(f, 1, rows, sh.hqk);

  const auto kernel =
      qla::gdn::fused_fwd_wgmma_kernel<kStages, TIn, T, TM, float, CycleProbe, kStateOnly>;
  const int smem = qla::gdn::fused_wgmma_layout(kStages).bytes;
  QLA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  const int ctas = 2 * sh.hv;
  const dim3 grid = kStateOnly ? dim3(sh.hv, 2) : dim3(ctas);
  const qla::cuda::DeviceBuffer counters = qla::bench::cycle_counters<FusedWgmmaProbe>(ctas);

  cudaEvent_t e0, e1;
  QLA_CUDA_CHECK(cudaEventCreate(&e0));
  QLA_CUDA_CHECK(cudaEventCreate(&e1));
  // Launches back to back for warm_ms before the timed ones, so the card runs at the clock it
  // holds under sustained load (at its power limit, an H200 running this kernel on every SM drops
  // from its boost clock within ~0.3 s), as the op does in a bench; the first launch times one.
  QLA_CUDA_CHECK(cudaEventRecord(e0));
  kernel<<<grid, 384, smem>>>(pw);
  QLA_CUDA_CHECK(cudaEventRecord(e1));
  QLA_CUDA_CHECK(cudaEventSynchronize(e1));
  float once_ms = 0;
  QLA_CUDA_CHECK(cudaEventElapsedTime(&once_ms, e0, e1));
  const long long warm_launches = static_cast<long long>(warm_ms / std::max(once_ms, 1e-3f));
  for (long long i = 0; i < warm_launches; ++i) kernel<<<grid, 384, smem>>>(pw);
  QLA_CUDA_CHECK(cudaEventRecord(e0));
  for (int i = 0; i < iters; ++i) kernel<<<grid, 384, smem>>>(pw);
  QLA_CUDA_CHECK(cudaEventRecord(e1));
  QLA_CUDA_CHECK(cudaEventSynchronize(e1));
  float ms = 0;
  QLA_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
  ms /= static_cast<float>(iters);
  QLA_CUDA_CHECK(cudaEventDestroy(e0));
  QLA_CUDA_CHECK(cudaEventDestroy(e1));

  const std::vector<unsigned long long> c = counters.to_host<unsigned long long>();
  const long long chunks = (rows + 63) / 64;
  int sms = 0;
  QLA_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const int waves = (ctas + sms - 1) / sms;
  qla::bench::ChunkStepRow row;
  row.h_qk = sh.hqk;
  row.h_v = sh.hv;
  row.tokens = rows;
  row.stages = kStages;
  row.pass = kStateOnly ? "state" : "forward";
  row.operands = std::is_same<T, __half>::value    ? "fp16"
                 : std::is_same<TM, __half>::value ? "bf16+fp16"
                                                   : "bf16";
  row.ctas = ctas;
  row.waves = waves;
  row.kernel_ms = ms;
  row.step_us = 1000.0 * ms / static_cast<double>(chunks * waves);
  row.warm_ms = warm_ms;
  row.sm_mhz = qla::bench::loop_clock_mhz<FusedWgmmaProbe>(c, ctas, FusedWgmmaProbe::kState);
  std::printf(
      "\n%d/%d 1x%lld  %s pass  stages %d  %s operands  %d CTAs (%d wave%s)  kernel %.3f ms  "
      "chunk step %.2f us  SM clock %.0f MHz\n",
      sh.hqk, sh.hv, rows, row.pass.c_str(), kStages, row.operands.c_str(), ctas, waves,
      waves > 1 ? "s" : "", ms, row.step_us, row.sm_mhz);
  for (const int role : {FusedWgmmaProbe::kState, FusedWgmmaProbe::kAux, FusedWgmmaProbe::kProducer,
                         FusedWgmmaProbe::kStore}) {
    if (kStateOnly && role == FusedWgmmaProbe::kStore) continue;  // the state pass stores no O
    double total = 0;
    std::vector<std::pair<std::string, double>> phases;
    std::printf("  %-9s", kRoleNames[role]);
    for (int ph = 0; ph < FusedWgmmaProbe::kPhases; ++ph) {
      if (!*kPhaseNames[role][ph]) continue;
      double sum = 0;
      for (int b = 0; b < ctas; ++b)
        sum += static_cast<double>(
            c[(b * FusedWgmmaProbe::kRoles + role) * FusedWgmmaProbe::kPhases + ph]);
      const double per_chunk = sum / ctas / static_cast<double>(chunks);
      total += per_chunk;
      phases.emplace_back(kPhaseNames[role][ph], per_chunk);
      std::printf("  %s %.0f", kPhaseNames[role][ph], per_chunk);
    }
    std::printf("  | total %.0f cycles/chunk\n", total);
    row.roles.emplace_back(kRoleNames[role], std::move(phases));
  }
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Cycles per chunk of each phase of the wgmma chunk forward's loops (sm_90a)"};
  Shape sh{2, 8, 32768};
  int iters = 10;
  app.add_option("--hqk", sh.hqk, "query/key heads")->check(CLI::Range(1, 256));
  app.add_option("--hv", sh.hv, "value heads (a multiple of --hqk)")->check(CLI::Range(1, 256));
  app.add_option("--tokens", sh.tokens, "tokens of the one sequence")
      ->check(CLI::Range(1LL, 1LL << 22));
  app.add_option("--iters", iters, "timed launches")->check(CLI::Range(1, 1000));
  int warm_ms = 500;
  app.add_option("--warm-ms", warm_ms,
                 "milliseconds of untimed launches before the timed ones, so the card reaches the "
                 "clock it holds under sustained load (0: time from a cold, boost-clocked card)")
      ->check(CLI::Range(0, 60000));
  std::string json_path;
  bool state_only = false;
  app.add_flag("--state-pass", state_only,
               "also profile the CP state pass on the same chain (the state-only instantiation: no "
               "Q, no O; every chunk from zero)");
  app.add_option("--json", json_path,
                 "also add the rows to this chunk-step record (qla.chunk_step.v1; rows of another "
                 "card or commit are replaced), e.g. results/<gpu>/chunk_step.json");
  CLI11_PARSE(app, argc, argv);
  if (sh.hv % sh.hqk != 0) {
    std::fprintf(stderr, "qla_chunk_step_profile: --hv must be a multiple of --hqk\n");
    return 2;
  }
  int major = 0;
  QLA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
  if (major != 9) {
    std::fprintf(stderr, "qla_chunk_step_profile: needs an sm_90 GPU\n");
    return 2;
  }
  using Bf16 = __nv_bfloat16;
  std::vector<qla::bench::ChunkStepRow> rows = {
      profile<2, __half, __half, false>(sh, iters, warm_ms),
      profile<3, __half, __half, false>(sh, iters, warm_ms),
      profile<2, Bf16, Bf16, false>(sh, iters, warm_ms),
      profile<3, Bf16, Bf16, false>(sh, iters, warm_ms),
      profile<2, Bf16, __half, false>(sh, iters, warm_ms),
      profile<3, Bf16, __half, false>(sh, iters, warm_ms)};
  if (state_only)
    for (auto r : {profile<2, __half, __half, true>(sh, iters, warm_ms),
                   profile<3, __half, __half, true>(sh, iters, warm_ms),
                   profile<2, Bf16, Bf16, true>(sh, iters, warm_ms),
                   profile<2, Bf16, __half, true>(sh, iters, warm_ms)})
      rows.push_back(r);
  if (!json_path.empty()) {
    cudaDeviceProp prop{};
    QLA_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    const char* commit = std::getenv("QLA_GIT_COMMIT");  // scripts/gpu-session.sh sets it
    try {
      qla::bench::append_chunk_step_rows(
          json_path,
          {prop.name, prop.multiProcessorCount, commit ? commit : "", qla::bench::today_utc()},
          rows);
    } catch (const qla::UserError& e) {
      std::fprintf(stderr, "qla_chunk_step_profile: %s\n", e.what());
      return 1;
    }
  }
  return 0;
}
