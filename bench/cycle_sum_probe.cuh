// The cycle probe the profilers instantiate kernels with (the library's kernels take
// qla::cuda::NoProbe, common/cycle_probe.cuh): it sums the clock64() cycles between marks per phase
// in registers, and lane 0 of each reporting warp writes its role's sums once, at
// (CTA · kRoles + role) · kPhases in the profiler's counters (cycle_counters), the CTA numbered
// over the whole grid (x fastest). Phases: the kernel's probe declaration (kRoles, kPhases; e.g.
// KktSolveProbe). After the grid's phase counters come its loop spans, two a (CTA, role): the
// clock64() cycles and the %globaltimer nanoseconds from start() to finish(), whose ratio is the SM
// clock the loop ran at (loop_clock_mhz): a card at its power limit runs below its boost clock, so
// a cycle count converts to time only at the clock measured with it. Each profiler is one binary
// with one TU of CUDA code, so the counters' pointer is a device variable of that TU. Also the fill
// kernel the profilers' synthetic inputs use.
#pragma once

#include <vector>

#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"

namespace qla::bench {

static __device__ unsigned long long* g_cycle_counters;  // [CTA][role][phase]

template <class Phases>
struct CycleSumProbe {
  static constexpr int kCountersPerCta = Phases::kRoles * Phases::kPhases;
  long long last = 0, first = 0;
  unsigned long long first_ns = 0;
  long long acc[Phases::kPhases] = {};
  __device__ __forceinline__ static unsigned long long global_ns() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
  }
  __device__ __forceinline__ void start() {
    first_ns = global_ns();
    last = first = clock64();
  }
  __device__ __forceinline__ void mark(int phase) {
    const long long now = clock64();
    acc[phase] += now - last;
    last = now;
  }
  __device__ __forceinline__ void finish(int role) {
    const long long cycles = clock64() - first;
    const unsigned long long ns = global_ns() - first_ns;
    if (threadIdx.x % 32 != 0) return;
    const unsigned cta = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    unsigned long long* out = g_cycle_counters + (cta * Phases::kRoles + role) * Phases::kPhases;
    for (int i = 0; i < Phases::kPhases; ++i) out[i] = static_cast<unsigned long long>(acc[i]);
    const unsigned ctas = gridDim.x * gridDim.y * gridDim.z;
    unsigned long long* span =
        g_cycle_counters + ctas * kCountersPerCta + (cta * Phases::kRoles + role) * 2;
    span[0] = static_cast<unsigned long long>(cycles);
    span[1] = ns;
  }
};

/// Zeroed counters for `ctas` CTAs (the whole grid) of a probe of Phases (roles that do not run
/// stay 0) and their loop spans, and the probe pointed at them.
template <class Phases>
qla::cuda::DeviceBuffer cycle_counters(long long ctas) {
  qla::cuda::DeviceBuffer counters(ctas *
                                   (CycleSumProbe<Phases>::kCountersPerCta + 2 * Phases::kRoles) *
                                   sizeof(unsigned long long));
  QLA_CUDA_CHECK(cudaMemset(counters.get(), 0, counters.bytes()));
  unsigned long long* base = counters.as<unsigned long long>();
  QLA_CUDA_CHECK(cudaMemcpyToSymbol(g_cycle_counters, &base, sizeof base));
  return counters;
}

/// The SM clock in MHz over `role`'s loops in the counters of `ctas` CTAs (cycle_counters, copied
/// to the host): their cycles over their nanoseconds; 0 where the role did not run.
template <class Phases>
double loop_clock_mhz(const std::vector<unsigned long long>& counters, long long ctas, int role) {
  const unsigned long long* span = counters.data() + ctas * CycleSumProbe<Phases>::kCountersPerCta;
  double cycles = 0, ns = 0;
  for (long long b = 0; b < ctas; ++b) {
    cycles += static_cast<double>(span[(b * Phases::kRoles + role) * 2]);
    ns += static_cast<double>(span[(b * Phases::kRoles + role) * 2 + 1]);
  }
  return ns > 0 ? 1e3 * cycles / ns : 0.0;
}

/// x[0, n) = value.
static __global__ void fill_constant(float* x, long long n, float value) {
  for (long long i = blockIdx.x * 256ll + threadIdx.x; i < n; i += 256ll * gridDim.x) x[i] = value;
}

}  // namespace qla::bench
