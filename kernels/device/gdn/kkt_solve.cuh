// kkt_solve: the gate-free UT matrix of each (chunk, value head):
//   A_r = (I + StrictLower(diag(β) K Kᵀ))⁻¹            (C, C), unit lower triangular, stored in the
//   qkv dtype
// K Kᵀ runs on tensor cores (mma.sync m16n8k16, fp32 accumulators); the inversion is blocked, in
// fp32 shared memory on CUDA cores: diagonal blocks of kBlock rows by forward substitution, then
// block row i (i = 1..) from
//   A_ij = −A_ii · Σ_{j ≤ q < i} L_iq A_qj               (block indices), i.e. one product per
//   block row.
// Compiles under nvcc and NVRTC.
#pragma once

#include "common/mma.cuh"
#include "qla/gdn/fused_params.hpp"

namespace qla::gdn {

/// kChunk: C (32 or 64); kBlock: diagonal block size of the inversion (16 or 32, ≤ C); kWarps: 4 or
/// 8; T: qkv dtype (__nv_bfloat16 or __half); BetaT: float or T.
template <int kChunk, int kBlock, int kWarps, class T, class BetaT>
__global__ void __launch_bounds__(kWarps * 32) kkt_solve_kernel(KktSolveParams p) {
  static_assert(kChunk == 32 || kChunk == 64, "chunk size");
  static_assert(kBlock == 16 || kBlock == 32, "inversion block");
  static_assert(kChunk % kBlock == 0, "blocks must tile the chunk");
  constexpr int kThreads = kWarps * 32;
  constexpr int kD = kFusedHeadDim;
  constexpr int kPk = fused_pitch16(kD);
  constexpr int kPf = fused_pitch32(kChunk);
  constexpr KktSolveLayout kL = kkt_solve_layout(kChunk);
  using Tiling = cuda::WarpTiling<kChunk, kChunk, kWarps>;

  extern __shared__ __align__(128) unsigned char smem[];
  T* ks = reinterpret_cast<T*>(smem + kL.k_tile);  // (C, 128) 16-bit, 17 KB at C = 64
  float* ls =
      reinterpret_cast<float*>(smem + kL.l_tile);  // (C, C) fp32, L = StrictLower(diag(β) K Kᵀ)
  float* as = reinterpret_cast<float*>(smem + kL.a_tile);  // (C, C) fp32, the inverse
  float* ts = reinterpret_cast<float*>(smem + kL.t_tile);  // (kBlock, C) fp32 scratch
  float* bs = reinterpret_cast<float*>(smem + kL.beta);    // (C) β

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int chunk = blockIdx.x / p.heads_v;
  const int head = blockIdx.x % p.heads_v;
  const int seq = p.seq.chunk_index[2 * chunk];
  const int cis = p.seq.chunk_index[2 * chunk + 1];
  if (seq < 0) return;  // a padding entry of the work list
  const long long first = p.seq.cu_seqlens[seq] + static_cast<long long>(cis) * kChunk;
  const long long end = p.seq.cu_seqlens[seq + 1];
  const int rows = end - first < kChunk ? static_cast<int>(end - first) : kChunk;
  const long long tpr = p.seq.tokens_per_row;
  const int qk_head = head / p.group;

  // K tile (zero rows past the sequence end) and β.
  {
    constexpr int kSegs = kD / 8;
    const T* kbase = static_cast<const T*>(p.k.data);
    for (int i = tid; i < kChunk * kSegs; i += kThreads) {
      const int r = i / kSegs;
      const int s = i % kSegs;
      const bool valid = r < rows;
      const T* src =
          valid ? kbase + cuda::token_offset(p.k, first + r, qk_head, tpr) + s * 8 : kbase;
      cuda::cp_async16(ks + r * kPk + s * 8, src, valid);
    }
    cuda::cp_async_commit();
    const BetaT* bbase = static_cast<const BetaT*>(p.beta.data);
    for (int r = tid; r < kChunk; r += kThreads)
      bs[r] =
          r < rows ? cuda::to_float(bbase[cuda::token_offset(p.beta, first + r, head, tpr)]) : 0.f;
    for (int i = tid; i < kChunk * kPf; i += kThreads) as[i] = 0.f;
    cuda::cp_async_wait<0>();
    __syncthreads();
  }

  // L = StrictLower(diag(β) K Kᵀ): (C x 128) · (128 x C) on tensor cores.
  {
    float acc[Tiling::kMT][Tiling::kNT][4];
    cuda::zero_acc(acc);
    const int m0 = Tiling::m0(warp);
    const int n0 = Tiling::n0(warp);
    cuda::warp_mma<T, false, false, Tiling::kMT, Tiling::kNT, kD>(acc, ks, kPk, ks, kPk, m0, n0);
    cuda::for_each_acc(acc, m0, n0,
                       [&](int r, int c, float& x) { ls[r * kPf + c] = c < r ? bs[r] * x : 0.f; });
  }
  __syncthreads();

  // Diagonal blocks: column j of block b by forward substitution, X[s][j] = δ_sj − Σ_{j ≤ r < s}
  // L[s][r] X[r][j].
  for (int t = tid; t < kChunk; t += kThreads) {
    const int base = (t / kBlock) * kBlock;
    const int j = t % kBlock;
    as[(base + j) * kPf + base + j] = 1.f;
    for (int s = j + 1; s < kBlock; ++s) {
      float x = 0.f;
      for (int r = j; r < s; ++r)
        x -= ls[(base + s) * kPf + base + r] * as[(base + r) * kPf + base + j];
      as[(base + s) * kPf + base + j] = x;
    }
  }
  __syncthreads();

  // Off-diagonal block rows: T = L[rows of block i, 0:iB) · A[0:iB, 0:iB), then A[block i, 0:iB) =
  // −A_ii T.
  for (int bi = 1; bi < kChunk / kBlock; ++bi) {
    const int r0 = bi * kBlock;
    for (int e = tid; e < kBlock * r0; e += kThreads) {
      const int pr = e / r0;
      const int c = e % r0;
      float x = 0.f;
      for (int q = c; q < r0; ++q) x += ls[(r0 + pr) * kPf + q] * as[q * kPf + c];
      ts[pr * kPf + c] = x;
    }
    __syncthreads();
    for (int e = tid; e < kBlock * r0; e += kThreads) {
      const int pr = e / r0;
      const int c = e % r0;
      float x = 0.f;
      for (int q = 0; q <= pr; ++q) x -= as[(r0 + pr) * kPf + r0 + q] * ts[q * kPf + c];
      as[(r0 + pr) * kPf + c] = x;
    }
    __syncthreads();
  }

  // Store the valid rows, 8 elements (16 bytes) per thread and step.
  {
    constexpr int kSegs = kChunk / 8;
    T* abase = static_cast<T*>(p.a.data);
    for (int i = tid; i < rows * kSegs; i += kThreads) {
      const int r = i / kSegs;
      const int s = i % kSegs;
      uint4 out;
      unsigned* w = reinterpret_cast<unsigned*>(&out);
#pragma unroll
      for (int e = 0; e < 4; ++e)
        w[e] = cuda::pack2<T>(as[r * kPf + s * 8 + 2 * e], as[r * kPf + s * 8 + 2 * e + 1]);
      *reinterpret_cast<uint4*>(abase + cuda::token_offset(p.a, first + r, head, tpr) + s * 8) =
          out;
    }
  }
}

}  // namespace qla::gdn
