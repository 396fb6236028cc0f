// Warpgroup MMA (sm_90a): shared-memory matrix descriptors for 128-byte-swizzled tiles, the
// fence / commit / wait discipline, and the fragment conversions that chain one wgmma's fp32
// accumulators into the next one's A operand in registers. The instructions themselves are the
// generated Wgmma<N, T, kTransB> wrappers (common/wgmma_ops.cuh). PTX ISA, "Asynchronous Warpgroup
// Level Matrix Multiply-Accumulate Instructions". Compiles under nvcc and NVRTC.
//
// Tiles: 16-bit elements, 1024-byte aligned, built from TMA boxes whose inner extent is 64 elements
// (128 bytes) with CU_TENSOR_MAP_SWIZZLE_128B: row r of a box starts at r·128 B and its 16-byte
// chunk c sits at chunk c ^ (r % 8) (swizzle_128b below). One such box of R rows is a "SW128 box".
//  * K-major operand (the reduction dim k contiguous, e.g. K [token][dk] as B of U = S·Kᵀ): a
//    k16 slice is the box plus 32 B per 16 k; the next 64 k live in the next box. SBO = 1024 B (8
//    rows), LBO unused.
//  * MN-major operand (the M/N dim contiguous, e.g. the same K tile as B of S += V_dᵀ·K): a k16
//    slice starts 16 rows (2048 B) further; the next 64 columns of N live in the next box, LBO
//    bytes away. SBO = 1024 B.
//
// Fragments of m64nNk16 (warp w of the warpgroup owns rows 16w..16w+15; lane = 4·g + t):
//  * accumulator d[4j + {0,1}] = (row g, cols 8j + 2t + {0,1}), d[4j + {2,3}] = (row g + 8, same);
//  * A operand a[0] = (row g, k 2t..2t+1), a[1] = (row g+8, k 2t..), a[2] = (row g, k 8+2t..),
//    a[3] = (row g+8, k 8+2t..), two 16-bit values per register, lower k in the low half.
// So columns 16q..16q+15 of an accumulator are the A fragment of k-slice q after packing pairs
// (accumulator_to_a).
#pragma once

#include "common/mma.cuh"
#include "common/wgmma_ops.cuh"
#include "qla/cuda/smem_descriptor.hpp"

namespace qla::cuda {

/// A wgmma shared-memory matrix descriptor: start address, leading- and stride-dimension byte
/// offsets (multiples of 16), base offset 0 (1024-byte aligned atoms), layout
/// (qla/cuda/smem_descriptor.hpp has the bit fields).
__device__ __forceinline__ unsigned long long smem_descriptor(const void* start, unsigned lbo_bytes,
                                                              unsigned sbo_bytes,
                                                              SmemLayout layout) {
  return smem_descriptor_at(smem_u32(start), lbo_bytes, sbo_bytes, layout);
}

/// K-major operand from SW128 boxes of 64 k-elements: k-slice `k16` (16 elements each) of the
/// operand whose first box is `box0`, boxes `box_bytes` apart (rows · 128).
__device__ __forceinline__ unsigned long long k_major_sw128(const void* box0, int k16,
                                                            unsigned box_bytes) {
  return descriptor_plus(smem_descriptor(box0, 16, 1024, SmemLayout::kSwizzle128B),
                         (k16 / 4) * box_bytes + (k16 % 4) * 32);
}

/// MN-major operand from SW128 boxes of 64 MN-elements × rows k: k-slice `k16`, the next 64 MN
/// columns `box_bytes` further (rows · 128).
__device__ __forceinline__ unsigned long long mn_major_sw128(const void* box0, int k16,
                                                             unsigned box_bytes) {
  return descriptor_plus(smem_descriptor(box0, box_bytes, 1024, SmemLayout::kSwizzle128B),
                         k16 * 2048);
}

/// Byte offset of 16-bit element (row, col) inside a SW128 box (col < 64).
__device__ __forceinline__ unsigned swizzle_128b(int row, int col) {
  return static_cast<unsigned>(row * 128 + ((((col >> 3) ^ (row & 7)) & 7) << 4) + (col & 7) * 2);
}

/// Orders register accesses of this warpgroup before the wgmma that follow (before the first wgmma
/// of a batch, and after writing registers a batch reads).
__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
/// Closes the wgmma issued since the last commit into one group.
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
/// Waits until at most kPending committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}

/// Keeps the compiler from moving accesses of `d` across a wgmma issue or wait (no instruction).
template <int N>
__device__ __forceinline__ void fence_operands(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

template <int N>
__device__ __forceinline__ void zero(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) d[i] = 0.f;
}

/// 2^x on the SFU (ex2.approx.ftz: relative error ~2^-22, no subnormal results).
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/// The A fragment of k-slice q (accumulator columns 16q..16q+15), rounded to T.
template <typename T, int N>
__device__ __forceinline__ void accumulator_to_a(const float (&d)[N], int q, unsigned (&a)[4]) {
#pragma unroll
  for (int r = 0; r < 4; ++r) a[r] = pack2<T>(d[8 * q + 2 * r], d[8 * q + 2 * r + 1]);
}

/// Stores four 8×8 16-bit matrices from registers into shared memory (the inverse of ldmatrix_x4):
/// lane l gives the address of row l % 8 of matrix l / 8.
__device__ __forceinline__ void stmatrix_x4(void* p, const unsigned (&r)[4]) {
  asm volatile(
      "stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(smem_u32(p)),
      "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3])
      : "memory");
}
/// The same, each matrix transposed.
__device__ __forceinline__ void stmatrix_x4_trans(void* p, const unsigned (&r)[4]) {
  asm volatile(
      "stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(smem_u32(p)),
      "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3])
      : "memory");
}

/// The warpgroup index of this thread, warp-uniform for the compiler (role branches on it stay
/// uniform, so no wgmma in them is serialised).
__device__ __forceinline__ int warpgroup_index() {
  return __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x) / 128, 0);
}

/// True in exactly one lane of the calling (converged) warp.
__device__ __forceinline__ bool elect_one() {
  unsigned pred = 0;
  asm volatile(
      "{\n.reg .b32 lane;\n.reg .pred p;\n"
      "elect.sync lane|p, 0xffffffff;\n"
      "selp.u32 %0, 1, 0, p;\n}\n"
      : "=r"(pred));
  return pred != 0;
}

}  // namespace qla::cuda
