// kkt_solve: the gate-free UT matrix of each (chunk, value head):
//   A_r = (I + L)⁻¹,  L = StrictLower(diag(β) K Kᵀ)      (C, C), unit lower triangular, stored in
//   the qkv dtype
// One CTA per (chunk, query/key head): the value heads of a group share K, so K is loaded and K Kᵀ
// computed once (tensor cores, mma.sync m16n8k16) into shared memory, then each value head of the
// group is inverted in turn, its β applied to the rows of L where they are read. With
// kPerValueHead, one CTA per (chunk, value head) instead: K Kᵀ is formed once per value head (a
// 64 x 64 x 128 product, small beside the inversion), and a grid of few chunks (short sequences)
// spreads over more SMs with one inversion each on its chain. The inverse is
// built by doubling: the C/32 diagonal blocks of 32 rows are inverted by forward substitution in
// registers (a warp per block, lane j holds column j), then at C = 64 the two inverse blocks Y₀, Y₁
// merge into one through their lower-left block
//   X₁₀ = −Y₁ (L₁₀ Y₀)                                  (two 32 × 32 × 32 TF32 products)
// spread over the warps in 16 × 16 tiles. Depth: 31 dependent FMAs, then one merge, instead of C
// serial rows. (Blocks of 16 are kkt_solve_rows_kernel's: kkt_solve_rows.cuh.) The value heads of a
// CTA share K Kᵀ (in shared memory, each head's β applied where its L is read) and the zeroed upper
// triangle of the inverse, and take turns with four barriers each; the next head's β is fetched
// during the current one. A token with β‖k‖² > 2 (keys far from unit norm) sets
// kCallErrorExpansiveKeys in the call's error word (qla/gdn/call_error.hpp). With kFuseCumsum the
// CTA also writes the chunk-local cumsum of g for its chunk and value heads while its K tile lands
// (the prep of the gate and of A_r in one launch). Compiles under nvcc and NVRTC.
#pragma once

#include "common/cycle_probe.cuh"
#include "common/griddep.cuh"
#include "common/mma.cuh"
#include "common/warp_scan.cuh"
#include "qla/gdn/call_error.hpp"
#include "qla/gdn/fused_params.hpp"

namespace qla::gdn {

/// The gate g at one value head over the chunk's `rows` tokens from `first` (0 past them), lane l
/// holding positions [l·C/32, (l+1)·C/32), as kkt_chunk_cumsum scans them.
template <int kChunk>
__device__ __forceinline__ void kkt_chunk_gate(const KktSolveParams& p, long long first, int rows,
                                               int head, long long tpr,
                                               float (&vals)[kChunk / 32]) {
  constexpr int kPerLane = kChunk / 32;
  const int lane = threadIdx.x % 32;
  const long long in0 = cuda::token_offset(p.g_in, first, head, tpr);
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) {
    const int j = lane * kPerLane + e;
    const long long at = in0 + j * p.g_in.stride_token;
    vals[e] = j >= rows ? 0.f
              : p.g_dtype == kKktGateBF16
                  ? cuda::to_float(static_cast<const __nv_bfloat16*>(p.g_in.data)[at])
                  : static_cast<const float*>(p.g_in.data)[at];
  }
}

/// The chunk-local cumsum of g from the values kkt_chunk_gate fetched, by the scan
/// chunk_local_cumsum_kernel uses (common/warp_scan.cuh), so its bits.
template <int kChunk>
__device__ __forceinline__ void kkt_chunk_cumsum_store(const KktSolveParams& p, long long first,
                                                       int rows, int head, long long tpr,
                                                       float (&vals)[kChunk / 32]) {
  constexpr int kPerLane = kChunk / 32;
  const int lane = threadIdx.x % 32;
  cuda::warp_inclusive_scan(vals);
  // A chunk lies in one batch row: its tokens are stride_token apart from the first.
  float* const out = cuda::token_ptr<float>(p.g_out, first, head, tpr);
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) {
    const int j = lane * kPerLane + e;
    if (j < rows) out[j * p.g_out.stride_token] = vals[e];
  }
}

/// The chunk-local cumsum of g at one value head over the chunk's `rows` tokens from `first`.
template <int kChunk>
__device__ __forceinline__ void kkt_chunk_cumsum(const KktSolveParams& p, long long first, int rows,
                                                 int head, long long tpr) {
  float vals[kChunk / 32];
  kkt_chunk_gate<kChunk>(p, first, rows, head, tpr, vals);
  kkt_chunk_cumsum_store<kChunk>(p, first, rows, head, tpr, vals);
}

/// The tile's accumulators as pairs: f(i, j, x, y) for (i, j) and (i, j + 1), i, j within the tile.
template <class F>
__device__ __forceinline__ void kkt_tile_pairs(const float (&acc)[1][2][4], const F& f) {
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
#pragma unroll
  for (int n = 0; n < 2; ++n)
#pragma unroll
    for (int h = 0; h < 2; ++h) f(g + 8 * h, 8 * n + 2 * t, acc[0][n][2 * h], acc[0][n][2 * h + 1]);
}

/// One 16 x 16 tile of a merge, kDepth deep: acc = A B with A(i, k) = a(i, k), B(k, j) = b(k, j).
template <int kDepth, class FA, class FB>
__device__ __forceinline__ void kkt_tile_product(float (&acc)[1][2][4], const FA& a, const FB& b) {
  cuda::zero_acc(acc);
  cuda::warp_mma_tf32_fn<1, 2, kDepth, kDepth / 8>(acc, a, b);
}

/// kChunk: C (32 or 64); kBlock: diagonal block size of the inversion, 32 (blocks of 16 are
/// kkt_solve_rows_kernel's, kkt_solve_rows.cuh); kWarps: 4 or 8; T: qkv dtype (__nv_bfloat16 or
/// __half); BetaT: float or T; kPerValueHead: a CTA per value head (else per query/key head);
/// kFuseCumsum: also the chunk-local cumsum of g for the CTA's value heads (KktSolveParams::g_out),
/// which then needs no cumsum kernel. No minimum of CTAs a SM in the launch bounds (the
/// substitution holds a 32-row column a lane).
/// The phases of kkt_solve a cycle probe times (common/cycle_probe.cuh;
/// bench/kkt_solve_profile.cu): the prologue once per CTA, the others once per value head. Role 0
/// is warp 0 (it inverts), role 1 the CTA's last warp (it waits through the warp-local phase).
struct KktSolveProbe {
  static constexpr int kRoles = 2;
  static constexpr int kPhases = 6;
  enum Phase { kPrologue, kStart, kLocal, kMerge0, kMerge1, kStore };
};

template <int kChunk, int kBlock, int kWarps, class T, class BetaT, bool kPerValueHead,
          bool kFuseCumsum, class Probe = cuda::NoProbe>
__global__ void __launch_bounds__(kWarps * 32, 1) kkt_solve_kernel(KktSolveParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  Probe probe;
  probe.start();
  static_assert(kChunk == 32 || kChunk == 64, "chunk size");
  static_assert(kBlock == 32, "inversion block (blocks of 16: kkt_solve_rows_kernel)");
  static_assert(kChunk % kBlock == 0, "blocks must tile the chunk");
  constexpr int kThreads = kWarps * 32;
  static_assert(kThreads >= kChunk, "thread r < C holds row r's β");
  constexpr int kD = kFusedHeadDim;
  constexpr int kPk = fused_pitch16(kD);
  constexpr int kPf = fused_pitch32(kChunk);
  constexpr KktSolveLayout kL = kkt_solve_layout(kChunk);
  using Tiling = cuda::WarpTiling<kChunk, kChunk, kWarps>;

  extern __shared__ __align__(128) unsigned char smem[];
  T* ks = reinterpret_cast<T*>(smem + kL.k_tile);          // (C, 128) 16-bit, 17 KB at C = 64
  float* ls = reinterpret_cast<float*>(smem + kL.l_tile);  // (C, C) fp32, M = Lower(K Kᵀ)
  float* as =
      reinterpret_cast<float*>(smem + kL.a_tile);  // (C, C) fp32, the inverse (kkt_swizzled)
  float* ts =
      reinterpret_cast<float*>(smem + kL.t_tile);  // (C, C) fp32, merge scratch (kkt_swizzled)
  const auto at = [](int r, int c) { return kkt_swizzled(kChunk, r, c); };
  // Stores the pair (x, y) at (r, c), (r, c + 1) of a swizzled tile (c even: one 8-byte store).
  const auto put2 = [&](float* tile, int r, int c, float x, float y) {
    *reinterpret_cast<float2*>(tile + at(r, c)) = make_float2(x, y);
  };
  float* bs = reinterpret_cast<float*>(smem + kL.beta);  // (2, C) β, double-buffered by head

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int heads_qk = p.heads_v / p.group;
  const int heads_per_chunk = kPerValueHead ? p.heads_v : heads_qk;  // CTAs per chunk
  const int chunk = blockIdx.x / heads_per_chunk;
  const int slot = blockIdx.x % heads_per_chunk;
  const int qk_head = kPerValueHead ? slot / p.group : slot;
  const int head_begin = kPerValueHead ? slot : qk_head * p.group;  // this CTA's first value head
  const int head_end = head_begin + (kPerValueHead ? 1 : p.group);
  const long long tpr = p.seq.tokens_per_row;
  const int seq = p.seq.chunk_index[2 * chunk];
  const int cis = p.seq.chunk_index[2 * chunk + 1];
  if (seq < 0) {                  // a padding entry j = cis of the work list
    if constexpr (kFuseCumsum) {  // zero g_out at rows cu_seqlens[N] + [j·C, (j+1)·C), as cumsum
      const long long pad0 =
          p.seq.cu_seqlens[p.seq.num_sequences] + static_cast<long long>(cis) * kChunk;
      for (int i = threadIdx.x; i < kChunk * (head_end - head_begin); i += kWarps * 32) {
        const long long tok = pad0 + i % kChunk;
        if (tok < p.seq.total_tokens)
          *cuda::token_ptr<float>(p.g_out, tok, head_begin + i / kChunk, tpr) = 0.f;
      }
    }
    return;
  }
  const long long first = p.seq.cu_seqlens[seq] + static_cast<long long>(cis) * kChunk;
  const long long end = p.seq.cu_seqlens[seq + 1];
  const int rows = end - first < kChunk ? static_cast<int>(end - first) : kChunk;

  // β of value head `head` at row r < C (0 past the sequence end): thread r < C fetches it one head
  // ahead, so no inversion waits on a global load.
  const auto load_beta = [&](int head) {
    const BetaT* bbase =
        static_cast<const BetaT*>(p.beta.data) + cuda::token_offset(p.beta, first, head, tpr);
    return tid < rows ? cuda::to_float(bbase[tid * p.beta.stride_token]) : 0.f;
  };

  // K tile (zero rows past the sequence end), the first head's β, a zeroed inverse: every head
  // writes the same lower-triangular blocks of it, so the zeros above them stay for all heads. A
  // chunk lies in one batch row: its tokens are stride_token apart.
  {
    constexpr int kSegs = kD / 8;
    const T* kbase = static_cast<const T*>(p.k.data) + cuda::token_offset(p.k, first, qk_head, tpr);
    for (int i = tid; i < kChunk * kSegs; i += kThreads) {
      const int r = i / kSegs;
      const int s = i % kSegs;
      const bool valid = r < rows;
      cuda::cp_async16(ks + r * kPk + s * 8, kbase + (valid ? r * p.k.stride_token + s * 8 : 0),
                       valid);
    }
    cuda::cp_async_commit();
    if (tid < kChunk) bs[tid] = load_beta(head_begin);
    for (int i = tid; i < kChunk * kChunk; i += kThreads) as[i] = 0.f;
    if constexpr (kFuseCumsum) {  // while K lands: warp w scans value heads begin + w, + kWarps, …
      for (int head = head_begin + warp; head < head_end; head += kWarps)
        kkt_chunk_cumsum<kChunk>(p, first, rows, head, tpr);
    }
    cuda::cp_async_wait<0>();
    __syncthreads();
  }

  // K Kᵀ: (C x 128) · (128 x C) on tensor cores, kept in registers for every value head.
  float kk[Tiling::kMT][Tiling::kNT][4];
  cuda::zero_acc(kk);
  const int m0 = Tiling::m0(warp);
  const int n0 = Tiling::n0(warp);
  cuda::warp_mma<T, false, false, Tiling::kMT, Tiling::kNT, kD>(kk, ks, kPk, ks, kPk, m0, n0);
  // M = Lower(K Kᵀ), written once for the CTA's value heads: head h's L = StrictLower(diag(β_h) M)
  // is scaled by its β where it is read (the substitution, the merges' T = L₁₀ Y₀), and the
  // diagonal ‖k_r‖² serves the expansive-keys check. The upper triangle is never read.
  cuda::for_each_acc(kk, m0, n0, [&](int r, int c, float& x) {
    if (c <= r) ls[r * kPf + c] = x;
  });
  probe.mark(KktSolveProbe::kPrologue);

  // One value head: its inverse, the heads of a CTA in turn (index i of the CTA's heads, β in
  // bs[i % 2]). Four barriers a head at C = 64 (two at C = 32): at the head's start (M and the
  // first β written; the previous head's store done reading the inverse), after the warp-local
  // inversions, after each pass of the merge across warps. The store needs none after it: the
  // next head writes the inverse only after its own first barrier.
  const auto invert = [&](const int head, const int i) {
    const float* b = bs + (i % 2) * kChunk;
    const bool has_next = head + 1 < head_end;
    const float beta_next = has_next && tid < kChunk ? load_beta(head + 1) : 0.f;

    __syncthreads();
    probe.mark(KktSolveProbe::kStart);
    // The diagonal β‖k‖² of diag(β) K Kᵀ tells whether the transition expands (β = 0 on rows past
    // the chunk).
    if (tid < kChunk && b[tid] * ls[tid * kPf + tid] > 2.f && p.error)
      atomicOr(p.error, kCallErrorExpansiveKeys);

    // Diagonal blocks by forward substitution: lane j of a block holds its column j, x[s] =
    // X[s][j]; once x[r] is final it is subtracted from every later row: X[s][j] = δ_sj −
    // Σ_{r<s} L[s][r] X[r][j], with L[s][r] = β_s M[s][r] rounded as a stored L would be. Warp b
    // inverts block b.
    const auto substitute = [&](const int base, const int col) {
      float x[kBlock];
#pragma unroll
      for (int s = 0; s < kBlock; ++s) x[s] = s == col ? 1.f : 0.f;
#pragma unroll
      for (int r = 0; r < kBlock - 1; ++r)
#pragma unroll
        for (int s = r + 1; s < kBlock; ++s)
          x[s] -= (b[base + s] * ls[(base + s) * kPf + base + r]) * x[r];
#pragma unroll
      for (int s = 0; s < kBlock; ++s) as[at(base + s, base + col)] = x[s];
    };
    constexpr int kLocal = kBlock;  // rows a warp inverts before the barrier
    if (warp < kChunk / kLocal) substitute(warp * kBlock, lane);
    // The next head's β, fetched while the diagonal blocks were inverted, into the other
    // buffer (its last readers were the previous head's substitution and merges, before this
    // head's first barrier).
    if (has_next && tid < kChunk) bs[((i + 1) % 2) * kChunk + tid] = beta_next;
    __syncthreads();
    probe.mark(KktSolveProbe::kLocal);

    // The remaining merge: the warps' two inverse blocks of m = 32 rows (Y₀ at 0, Y₁ at r1 = 32)
    // merge through T = L₁₀ Y₀ into the scratch tile, then X₁₀ = −Y₁ T, 16 × 16 output tiles spread
    // over the warps. Only at C = 64 (at C = 32 the warp-local phase already gave the inverse).
    if constexpr (kLocal < kChunk) {
      static_assert(2 * kLocal == kChunk, "one merge level");
      constexpr int m = kLocal, c0 = 0, r1 = m, kTiles = (m / 16) * (m / 16);
      for (int pass = 0; pass < 2; ++pass) {
        for (int tile = warp; tile < kTiles; tile += kWarps) {
          const int i0 = tile / (m / 16) * 16, j0 = tile % (m / 16) * 16;
          float acc[1][2][4];
          if (pass == 0) {  // T = L₁₀ Y₀ = diag(β₁) M₁₀ Y₀
            kkt_tile_product<m>(
                acc, [&](int i, int k) { return ls[(r1 + i0 + i) * kPf + c0 + k]; },
                [&](int k, int j) { return as[at(c0 + k, c0 + j0 + j)]; });
            kkt_tile_pairs(acc, [&](int i, int j, float x, float y) {
              const float beta = b[r1 + i0 + i];
              put2(ts, c0 + i0 + i, j0 + j, beta * x, beta * y);
            });
          } else {  // X₁₀ = −Y₁ T
            kkt_tile_product<m>(
                acc, [&](int i, int k) { return as[at(r1 + i0 + i, r1 + k)]; },
                [&](int k, int j) { return ts[at(c0 + k, j0 + j)]; });
            kkt_tile_pairs(acc, [&](int i, int j, float x, float y) {
              put2(as, r1 + i0 + i, c0 + j0 + j, -x, -y);
            });
          }
        }
        __syncthreads();
        probe.mark(pass == 0 ? KktSolveProbe::kMerge0 : KktSolveProbe::kMerge1);
      }
    }

    // Store the valid rows, 4 elements per thread and step (a 16-byte group of the tile: 8 lanes
    // read 8 different groups of a row).
    {
      constexpr int kGroups = kChunk / 4;
      T* abase = static_cast<T*>(p.a.data) + cuda::token_offset(p.a, first, head, tpr);
      for (int e = tid; e < rows * kGroups; e += kThreads) {
        const int r = e / kGroups;
        const int c = 4 * (e % kGroups);
        const float4 x = *reinterpret_cast<const float4*>(as + at(r, c));
        *reinterpret_cast<uint2*>(abase + r * p.a.stride_token + c) =
            make_uint2(cuda::pack2<T>(x.x, x.y), cuda::pack2<T>(x.z, x.w));
      }
    }
    probe.mark(KktSolveProbe::kStore);
  };
  if constexpr (kPerValueHead) {
    invert(head_begin, 0);
  } else {
    for (int head = head_begin; head < head_end; ++head) invert(head, head - head_begin);
  }
  if (warp == 0) probe.finish(0);
  if (warp == kWarps - 1) probe.finish(1);
}

}  // namespace qla::gdn
