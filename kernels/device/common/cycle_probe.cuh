// Compile-time cycle probes for a kernel's serial loop. A kernel takes a probe type as its last
// template argument, NoProbe by default, and marks the end of each phase of its loop with
// `probe.mark(phase)`; with NoProbe every call compiles to nothing, so the kernels the library
// builds carry no timing code. A profiler instantiates the same kernel with a probe that adds the
// clock64() cycles since the previous mark to the phase's counter and writes the counters once,
// after the loop (bench/chunk_step_profile.cu). Compiles under nvcc and NVRTC.
#pragma once

namespace qla::cuda {

/// The probe of every library build: no state, no instructions.
struct NoProbe {
  __device__ __forceinline__ void start() {}
  __device__ __forceinline__ void mark(int /*phase*/) {}
  /// Called by every lane of the one warp that reports `role` (the kernel's role index).
  __device__ __forceinline__ void finish(int /*role*/) {}
};

}  // namespace qla::cuda
