// Warp-specialisation primitives: shared-memory mbarriers (the producer/consumer handshake of a
// stage ring), named barriers (a sync among a subset of the CTA's warps) and setmaxnreg (moving
// registers between warpgroups). Compiles under nvcc and NVRTC (no host standard headers).
//
// setmaxnreg is an sm_90a instruction. On any other target reg_alloc/reg_dealloc compile to
// nothing: the kernel stays correct and every warp keeps the entry allocation, which is what a
// space's buildable() check rules out (ArchInfo::has_setmaxnreg()).
#pragma once

#include "common/mma.cuh"

namespace qla::cuda {

/// Initialises an mbarrier expecting `count` arrivals per phase. One thread; make it visible to the
/// others with a CTA barrier before the first wait.
__device__ __forceinline__ void mbar_init(unsigned long long* bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count)
               : "memory");
}

/// Arrives once (release at CTA scope: this thread's earlier shared-memory writes are visible to a
/// thread whose wait sees the phase complete).
__device__ __forceinline__ void mbar_arrive(unsigned long long* bar) {
  asm volatile(
      "{\n"
      ".reg .b64 state;\n"
      "mbarrier.arrive.shared::cta.b64 state, [%0];\n"
      "}\n" ::"r"(smem_u32(bar))
      : "memory");
}

/// Blocks until the phase of parity `parity` has completed (acquire at CTA scope). A fresh barrier
/// is in phase 0, so waiting for parity 1 returns at once: that is how a producer finds every slot
/// of a new ring empty.
__device__ __forceinline__ void mbar_wait(unsigned long long* bar, unsigned parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "QLA_MBAR_WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra QLA_MBAR_WAIT;\n"
      "}\n" ::"r"(smem_u32(bar)),
      "r"(parity)
      : "memory");
}

/// Named barrier `id` (1..15; 0 is __syncthreads) over `threads` threads, a multiple of 32.
template <int kId, int kThreads>
__device__ __forceinline__ void named_barrier_sync() {
  static_assert(kId > 0 && kId < 16 && kThreads % 32 == 0, "named barrier");
  asm volatile("bar.sync %0, %1;\n" ::"n"(kId), "n"(kThreads) : "memory");
}

/// This warpgroup gives registers back to the CTA's pool: from here on it runs with kRegs per
/// thread.
template <int kRegs>
__device__ __forceinline__ void reg_dealloc() {
  static_assert(kRegs >= 24 && kRegs <= 256 && kRegs % 8 == 0,
                "setmaxnreg takes 24..256 in steps of 8");
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}

/// This warpgroup takes registers from the CTA's pool (waits until other warpgroups gave enough
/// back).
template <int kRegs>
__device__ __forceinline__ void reg_alloc() {
  static_assert(kRegs >= 24 && kRegs <= 256 && kRegs % 8 == 0,
                "setmaxnreg takes 24..256 in steps of 8");
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
#endif
}

}  // namespace qla::cuda
