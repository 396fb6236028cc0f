// Device helpers of the unfused baseline pipeline (kernels/device/gdn/unfused_*.cuh), beside the
// shared vocabulary of common/convert.cuh: chunk ranges, cp.async and one warp-level tensor-core
// GEMM on shared-memory tiles.
//
// Precision choice: every GEMM of the pipeline runs on TF32 tensor cores (mma.sync m16n8k8, fp32
// accumulate) from fp32 or 16-bit shared-memory tiles, and every intermediate (g cumsum, beta, A,
// w, u/v_new, h) is fp32 in global memory. bf16/fp16 inputs are exact in TF32; fp32 intermediates
// are rounded to nearest TF32 (10-bit mantissa, 8x finer than bf16). FLA keeps these intermediates
// in bf16 and lands at 3.5-4.2e-3 relative error, too close to the 5e-3 bar; TF32 keeps this
// baseline well inside it at twice the bytes of FLA's intermediates. Compiles under nvcc and NVRTC:
// no host standard headers.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/convert.cuh"
#include "common/mma.cuh"
#include "qla/gdn/unfused_params.hpp"

namespace qla::gdn::unfused {

constexpr int kChunk = 64;     ///< C, tokens per chunk (fixed for this pipeline)
constexpr int kHeadDim = 128;  ///< K = V = 128
constexpr int kThreads =
    128;  ///< threads of every kernel but h (whose warp count is a config axis)
constexpr int kWarps = kThreads / 32;

using cuda::from_float;
using cuda::to_float;
using cuda::token_offset;
using cuda::zero_acc;

/// Where chunk c of the work list lies: first flat token and valid rows (1..64; 0 for a padding
/// entry).
struct ChunkRange {
  int sequence;
  long long first_token;
  int rows;
};
__device__ __forceinline__ ChunkRange chunk_range(const SequenceView& seq, int c) {
  const int n = seq.chunk_index[2 * c];
  const int i = seq.chunk_index[2 * c + 1];
  if (n < 0) return {-1, 0, 0};  // a padding entry of the work list: no rows
  const long long begin = seq.cu_seqlens[n] + static_cast<long long>(i) * kChunk;
  const long long end = seq.cu_seqlens[n + 1];
  const long long rows = end - begin < kChunk ? end - begin : kChunk;
  return {n, begin, static_cast<int>(rows)};
}

/// 16-byte asynchronous global→shared copy; `valid == false` writes zeros (src-size 0), reading
/// nothing.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int src_size = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem),
               "r"(src_size));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

/// Copies rows [0, 64) of a token-major 128-wide 16-bit tile (q, k or v of one head) into shared
/// memory with row pitch kPitch elements; rows >= `rows` are zero-filled (partial chunk). All
/// threads of the CTA share the copies; cp.async (no commit).
template <int kPitch, class T>
__device__ __forceinline__ void load_token_tile_async(T* smem, const TokenTensor& x,
                                                      const ChunkRange& r, int head,
                                                      long long tokens_per_row) {
  static_assert(sizeof(T) == 2, "16-bit tiles");
  constexpr int kVecs = kHeadDim * 2 / 16;  // 16-byte vectors per row
  const T* base = static_cast<const T*>(x.data);
  for (int i = threadIdx.x; i < kChunk * kVecs; i += blockDim.x) {
    const int row = i / kVecs;
    const int vec = i % kVecs;
    const bool valid = row < r.rows;
    const T* src =
        valid ? base + token_offset(x, r.first_token + row, head, tokens_per_row) + vec * 8 : base;
    cp_async16(smem + row * kPitch + vec * 8, src, valid);
  }
}

/// Copies a dense fp32 tile of `kRows` x `kCols` (global row pitch `gpitch` floats) into shared
/// memory with row pitch kPitch floats. All threads of the CTA share the copies; cp.async (no
/// commit).
template <int kRows, int kCols, int kPitch>
__device__ __forceinline__ void load_f32_tile_async(float* smem, const float* gmem,
                                                    long long gpitch) {
  constexpr int kVecs = kCols / 4;
  for (int i = threadIdx.x; i < kRows * kVecs; i += blockDim.x) {
    const int row = i / kVecs;
    const int vec = i % kVecs;
    cp_async16(smem + row * kPitch + vec * 4, gmem + row * gpitch + vec * 4, true);
  }
}

}  // namespace qla::gdn::unfused
