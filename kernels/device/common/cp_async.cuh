// Asynchronous 16-byte global → shared copies (sm_80+, PTX ISA: cp.async, cp.async.commit_group,
// cp.async.wait_group): each thread issues its copies, commits them as a group, and waits until at
// most N of its newest groups are still in flight; a __syncthreads() after the wait makes every
// thread's copies visible to the CTA. Compiles under nvcc and NVRTC (no host standard headers).
#pragma once

namespace qla::cuda {

__device__ __forceinline__ unsigned smem_u32(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

/// 16-byte asynchronous global→shared copy; `valid == false` writes zeros and reads nothing.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(smem)), "l"(gmem),
               "r"(src_size));
}
/// Closes this thread's uncommitted copies into a group (an empty group when there are none).
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
/// Waits until at most kPending of this thread's newest groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

}  // namespace qla::cuda
