// The cycle probe the profilers instantiate kernels with (the library's kernels take
// qla::cuda::NoProbe, common/cycle_probe.cuh): it sums the clock64() cycles between marks per phase
// in registers, and lane 0 of each reporting warp writes its role's sums once, at
// (CTA · kRoles + role) · kPhases in the profiler's counters (cycle_counters), the CTA numbered
// over the whole grid (x fastest). Phases: the kernel's probe declaration (kRoles, kPhases; e.g.
// KktSolveProbe). Each profiler is one binary with one TU of CUDA code, so the counters' pointer is
// a device variable of that TU. Also the fill kernel the profilers' synthetic inputs use.
#pragma once

#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"

namespace qla::bench {

static __device__ unsigned long long* g_cycle_counters;  // [CTA][role][phase]

template <class Phases>
struct CycleSumProbe {
  static constexpr int kCountersPerCta = Phases::kRoles * Phases::kPhases;
  long long last = 0;
  long long acc[Phases::kPhases] = {};
  __device__ __forceinline__ void start() { last = clock64(); }
  __device__ __forceinline__ void mark(int phase) {
    const long long now = clock64();
    acc[phase] += now - last;
    last = now;
  }
  __device__ __forceinline__ void finish(int role) {
    if (threadIdx.x % 32 != 0) return;
    const unsigned cta = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    unsigned long long* out = g_cycle_counters + (cta * Phases::kRoles + role) * Phases::kPhases;
    for (int i = 0; i < Phases::kPhases; ++i) out[i] = static_cast<unsigned long long>(acc[i]);
  }
};

/// Zeroed counters for `ctas` CTAs of a probe of Phases (roles that do not run stay 0), and the
/// probe pointed at them.
template <class Phases>
qla::cuda::DeviceBuffer cycle_counters(long long ctas) {
  qla::cuda::DeviceBuffer counters(ctas * CycleSumProbe<Phases>::kCountersPerCta *
                                   sizeof(unsigned long long));
  QLA_CUDA_CHECK(cudaMemset(counters.get(), 0, counters.bytes()));
  unsigned long long* base = counters.as<unsigned long long>();
  QLA_CUDA_CHECK(cudaMemcpyToSymbol(g_cycle_counters, &base, sizeof base));
  return counters;
}

/// x[0, n) = value.
static __global__ void fill_constant(float* x, long long n, float value) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) x[i] = value;
}

}  // namespace qla::bench
