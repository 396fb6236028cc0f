// Programmatic dependent launch (sm_90+, PTX ISA: griddepcontrol). A kernel launched with the
// programmatic-stream-serialization attribute may start while the previous kernel of its stream
// still runs; it must call griddep_wait() before it touches anything that kernel writes or reads.
// Every kernel of the fused forward calls griddep_wait() first, so each one starts only after its
// predecessor has completed and flushed, and by induction after every earlier kernel of the call:
// what the launch attribute buys is the launch latency and the gap between kernels, hidden behind
// the predecessor's last wave. Both calls are no-ops for a kernel launched without the attribute
// and compile to nothing below sm_90 (the portable mma.sync families are built for sm_80 too).
// Compiles under nvcc and NVRTC.
#pragma once

namespace qla::cuda {

/// Blocks until the grids this one depends on have completed and their memory is visible.
__device__ __forceinline__ void griddep_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

/// Lets the next kernel of the stream, if launched with the attribute, be scheduled once every CTA
/// of this grid has called this (or exited).
__device__ __forceinline__ void griddep_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

/// The prologue of a kernel of a dependent-launch chain: wait for the predecessor, then let the
/// successor launch.
__device__ __forceinline__ void griddep_chain() {
  griddep_wait();
  griddep_launch_dependents();
}

}  // namespace qla::cuda
