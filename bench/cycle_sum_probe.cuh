// The cycle probe the profilers instantiate kernels with (the library's kernels take
// qla::cuda::NoProbe, common/cycle_probe.cuh): it sums the clock64() cycles between marks per phase
// in registers, and lane 0 of each reporting warp writes its role's sums once, at
// Counters::base() + (CTA · kRoles + role) · kPhases, the CTA numbered over the whole grid (x
// fastest). Phases: the kernel's probe declaration (kRoles, kPhases; e.g. KktSolveProbe); Counters:
// a type with a static __device__ base(), the profiler's device buffer of CTAs x kRoles x kPhases
// 64-bit counters.
#pragma once

namespace qla::bench {

template <class Phases, class Counters>
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
    unsigned long long* out = Counters::base() + (cta * Phases::kRoles + role) * Phases::kPhases;
    for (int i = 0; i < Phases::kPhases; ++i) out[i] = static_cast<unsigned long long>(acc[i]);
  }
};

}  // namespace qla::bench
