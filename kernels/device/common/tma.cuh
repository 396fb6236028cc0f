// The Tensor Memory Accelerator (sm_90+): bulk tensor copies between global memory and shared
// memory driven by a tensor map (qla/cuda/tensor_map.hpp, encoded on the host by
// tensor_map_encode.hpp), completing on an mbarrier by transaction count; and the launch-level
// primitives that go with them (cluster coordinates; programmatic dependent launch is in
// common/griddep.cuh). PTX ISA: cp.async.bulk.tensor, mbarrier.expect_tx. Compiles under nvcc and
// NVRTC.
//
// Loads: one thread arms the stage's mbarrier with the bytes it expects (expect_tx) and issues the
// copies; the consumers wait on the barrier's phase (mbar_wait). A 128-byte-swizzled box needs its
// shared-memory destination 1024-byte aligned.
#pragma once

#include "common/griddep.cuh"
#include "common/warp_roles.cuh"
#include "qla/cuda/tensor_map.hpp"

namespace qla::cuda {

/// Makes mbarrier initialisation visible to the async proxy (TMA) and the rest of the cluster. One
/// thread, after mbar_init and before the CTA barrier that publishes the barriers.
__device__ __forceinline__ void fence_barrier_init() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

/// Orders this thread's generic-proxy shared-memory writes before later async-proxy (TMA, wgmma)
/// accesses.
__device__ __forceinline__ void fence_proxy_async_shared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

/// Arrives once on `bar` and adds `bytes` to the transactions its current phase waits for.
__device__ __forceinline__ void mbar_arrive_expect_tx(unsigned long long* bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_u32(bar)),
               "r"(bytes)
               : "memory");
}

/// Loads the box at coordinates (c0, c1) (elements, dimension 0 innermost) of a 2-D tensor map into
/// `dst`; completes `bytes` of `bar`'s expected transactions. Out-of-bounds elements are filled
/// (zero or NaN).
__device__ __forceinline__ void tma_load_2d(void* dst, const TensorMap* map,
                                            unsigned long long* bar, int c0, int c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, "
      "{%3, %4}], "
      "[%2];\n" ::"r"(smem_u32(dst)),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(smem_u32(bar)), "r"(c0), "r"(c1)
      : "memory");
}

/// The same for a 3-D tensor map (e.g. [tokens, heads, dim] with dim innermost).
__device__ __forceinline__ void tma_load_3d(void* dst, const TensorMap* map,
                                            unsigned long long* bar, int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, "
      "{%3, %4, %5}], "
      "[%2];\n" ::"r"(smem_u32(dst)),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(smem_u32(bar)), "r"(c0), "r"(c1), "r"(c2)
      : "memory");
}

/// The same for a 4-D tensor map (e.g. [batch, tokens, heads, dim] with dim innermost).
__device__ __forceinline__ void tma_load_4d(void* dst, const TensorMap* map,
                                            unsigned long long* bar, int c0, int c1, int c2,
                                            int c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, "
      "{%3, %4, %5, %6}], "
      "[%2];\n" ::"r"(smem_u32(dst)),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(smem_u32(bar)), "r"(c0), "r"(c1), "r"(c2),
      "r"(c3)
      : "memory");
}

/// Stores `src` as the box at (c0, c1) of a 2-D tensor map; out-of-bounds elements are not written.
/// Tracked by the issuing thread's bulk async-group (tma_store_commit / tma_store_wait_read).
__device__ __forceinline__ void tma_store_2d(const TensorMap* map, const void* src, int c0,
                                             int c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%0, {%2, %3}], [%1];\n" ::"l"(
          reinterpret_cast<unsigned long long>(map)),
      "r"(smem_u32(src)), "r"(c0), "r"(c1)
      : "memory");
}

/// The same for a 4-D tensor map (e.g. [batch, tokens, heads, dim] with dim innermost).
__device__ __forceinline__ void tma_store_4d(const TensorMap* map, const void* src, int c0, int c1,
                                             int c2, int c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.global.shared::cta.tile.bulk_group [%0, {%2, %3, %4, %5}], "
      "[%1];\n" ::"l"(reinterpret_cast<unsigned long long>(map)),
      "r"(smem_u32(src)), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
}

/// Closes the issuing thread's open bulk stores into one group.
__device__ __forceinline__ void tma_store_commit() {
  asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
}

/// Waits until at most kPending groups still read their shared-memory source (the buffer may then
/// be reused).
template <int kPending>
__device__ __forceinline__ void tma_store_wait_read() {
  asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(kPending) : "memory");
}

/// Waits until every bulk store group of the issuing thread has completed (its writes performed).
__device__ __forceinline__ void tma_store_wait_all() {
  asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
}

/// Brings the tensor map's descriptor into the constant cache ahead of its first use.
__device__ __forceinline__ void tma_prefetch_descriptor(const TensorMap* map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<unsigned long long>(map))
               : "memory");
}

/// This CTA's rank in its cluster, and the cluster's CTA count.
__device__ __forceinline__ unsigned cluster_ctarank() {
  unsigned r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return r;
}
__device__ __forceinline__ unsigned cluster_nctarank() {
  unsigned n;
  asm volatile("mov.u32 %0, %%cluster_nctarank;\n" : "=r"(n));
  return n;
}

}  // namespace qla::cuda
