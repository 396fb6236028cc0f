// kkt_solve by block rows, a warp per value head (the b16 configs of gdn.kkt_solve):
//   A_r = (I + L)⁻¹,  L = StrictLower(diag(β) K Kᵀ)      (C, C), unit lower triangular, stored in
//   the qkv dtype
// One CTA per (chunk, query/key head) (or per (chunk, value head) with kPerValueHead): its warps
// form M = Lower(K Kᵀ) once (tensor cores, mma.sync m16n8k16) into shared memory, then each warp
// inverts whole value heads of the group on its own, heads w, w + kWarps, … for warp w: no barrier
// of the CTA after M. Per value head, with Y = A_r in blocks Y_ij of 16 x 16 (i, j < C/16):
//   1. the diagonal blocks Y_ii = (I + L_ii)⁻¹ by forward substitution, a half-warp per block (lane
//      j holds column j), then read back through a per-warp scratch tile as m16n8 accumulator
//      fragments, both Y_ii and Y_iiᵀ;
//   2. block row by block row, Y_ij = −Y_ii Z_ij with Z_ij = Σ_{j≤k<i} L_ik Y_kj, on TF32 mma.sync
//      in registers: transposed, Z_ijᵀ = Σ Y_kjᵀ L_ikᵀ and Y_ijᵀ = −Z_ijᵀ Y_iiᵀ, so each product's
//      A operand is a previous product's accumulator fragment as it stands (its k index taken in
//      the order 2t, 2t + 1 of each 8, and the B operand's rows in the same order), and β, a factor
//      of L_ik's rows, scales Z_ijᵀ's columns after the sum;
//   3. each finished block row goes through a per-warp staging tile to 16-byte stores of full rows
//      (zeros above the diagonal).
// The warps never wait on each other after M, so one warp's substitution overlaps another's
// products and stores; shared memory carries K, M, the warps' β and their staging only. With 1 or
// 2 warps a CTA (kkt_rows_m_over_k) M is formed over the K tile, ~20 KB a CTA instead of ~35, so
// that up to 10 CTAs of one warp fit an H200 SM: at GVA group 1 (one value head an item) that keeps
// 10 warps inverting where 4 CTAs of 4 warps keep 4. A token
// with β‖k‖² > 2 sets kCallErrorExpansiveKeys in the call's error word; with kFuseCumsum the CTA
// also writes the chunk-local cumsum of g, as kkt_solve_kernel does. Compiles under nvcc and NVRTC.
#pragma once

#include "common/griddep.cuh"
#include "common/mma.cuh"
#include "common/wgmma.cuh"
#include "gdn/kkt_solve.cuh"
#include "qla/gdn/call_error.hpp"
#include "qla/gdn/fused_params.hpp"

namespace qla::gdn {

/// A 16 x 16 fp32 block in the m16n8 accumulator layout: v[n][r] holds element (g + 8·(r/2), 8n +
/// 2t + r%2), g = lane/4, t = lane%4.
using KktBlock = float[2][4];

/// cvt.rna.tf32.f32 for finite x (round to nearest, ties away from zero, in the bits mma.sync
/// reads) in one integer add; sm_90 emulates the cvt in three instructions. mma.sync's TF32
/// operands ignore the 13 low bits this leaves behind.
__device__ __forceinline__ unsigned kkt_tf32(float x) { return __float_as_uint(x) + 0x1000u; }

/// M(r, c) and M(r, c + 1) for an even c ≤ r by one 8-byte store. Where c = r the second lies in
/// the upper triangle, which no reader of M touches (the substitution and the block rows read
/// below the diagonal, the expansion check on it).
__device__ __forceinline__ void kkt_store_pair(float* at, float x, float y) {
  *reinterpret_cast<float2*>(at) = make_float2(x, y);
}

/// acc += A · B for 16 x 16 blocks on TF32 mma.sync m16n8k8: A as accumulator fragments (its
/// columns, the k index, in the order slot t ↔ 2t, slot t + 4 ↔ 2t + 1 within each 8), B as TF32
/// fragments in the same k order: b[s][nb] = {B(8s + 2t, 8nb + g), B(8s + 2t + 1, 8nb + g)}.
__device__ __forceinline__ void kkt_block_mma(KktBlock& acc, const KktBlock& a,
                                              const unsigned (&b)[2][2][2]) {
#pragma unroll
  for (int s = 0; s < 2; ++s) {
    const unsigned af[4] = {kkt_tf32(a[s][0]), kkt_tf32(a[s][2]), kkt_tf32(a[s][1]),
                            kkt_tf32(a[s][3])};
#pragma unroll
    for (int nb = 0; nb < 2; ++nb) cuda::mma_tf32(acc[nb], af, b[s][nb]);
  }
}

/// The B fragments of a block's transpose from its accumulator fragments: B = Yᵀ, B(m, b) = Y(b,
/// m), so b[s][nb] = {Y(8nb + g, 8s + 2t), Y(8nb + g, 8s + 2t + 1)} = y[s][2nb], y[s][2nb + 1].
__device__ __forceinline__ void kkt_block_transposed_b(unsigned (&b)[2][2][2], const KktBlock& y) {
#pragma unroll
  for (int s = 0; s < 2; ++s)
#pragma unroll
    for (int nb = 0; nb < 2; ++nb) {
      b[s][nb][0] = kkt_tf32(y[s][2 * nb]);
      b[s][nb][1] = kkt_tf32(y[s][2 * nb + 1]);
    }
}

/// kChunk: C (32 or 64); kWarps: 1, 2, 4 or 8; T: qkv dtype (__nv_bfloat16 or __half); BetaT: float
/// or T; kPerValueHead: a CTA per value head (else per query/key head; a value head per warp in
/// turn); kFuseCumsum: also the chunk-local cumsum of g for the CTA's value heads. Launch bounds:
/// kkt_rows_ctas_per_sm: 16 CTAs of 1 warp (10 at C = 64), 6 of 2, 4 of 4 or 2 of 8 a SM. The grid
/// may hold fewer CTAs than work items (chunk, head): CTA b takes items b, b + gridDim.x, …; once
/// the current item's M is formed, its K tile is dead and the next item's loads into it (cp.async)
/// and each warp's β and g of it (registers) are in flight while the current one is inverted
/// (with M over the K tile: once the current one is inverted).
template <int kChunk, int kWarps, class T, class BetaT, bool kPerValueHead, bool kFuseCumsum>
__global__ void __launch_bounds__(kWarps * 32, kkt_rows_ctas_per_sm(kChunk, kWarps))
    kkt_solve_rows_kernel(KktSolveParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  static_assert(kChunk == 32 || kChunk == 64, "chunk size");
  constexpr int kRows = kChunk / 16;  // block rows
  constexpr int kPerLane = kChunk / 32;
  constexpr int kThreads = kWarps * 32;
  constexpr int kD = kFusedHeadDim;
  constexpr int kPk = fused_pitch16(kD);
  constexpr KktRowsLayout kL = kkt_rows_layout(kChunk, kWarps);
  constexpr bool kMOverK = kkt_rows_m_over_k(kWarps);
  // Whether the launch bounds leave a thread more than 128 registers (1 and 2 warps: 204 and 170).
  // At 128 (4 and 8 warps) ptxas is at its limit: there the K-tile and A_r loops keep the forms
  // that hold fewer values live (the stepped ones below made c64.b16.w4 spill 50-100 bytes, nvcc
  // 13.0, where it spills none).
  constexpr bool kRegisterRoom = 65536 / (kkt_rows_ctas_per_sm(kChunk, kWarps) * kThreads) > 128;
  constexpr int kPm = kL.m_pitch, kPd = kL.diag_pitch, kPs = kL.stage_pitch;
  using Tiling = cuda::WarpTiling<kChunk, kChunk, kWarps>;

  extern __shared__ __align__(128) unsigned char smem[];
  float* ms = reinterpret_cast<float*>(smem + kL.m_tile);  // (C, C) fp32, M = Lower(K Kᵀ)

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int g = lane / 4, t = lane % 4;
  // The warp's own area: β of its head, then the diagonal blocks' scratch, which the staging of
  // the finished block rows reuses.
  unsigned char* area = smem + kL.warp_area + warp * kL.warp_bytes;
  float* bw = reinterpret_cast<float*>(area);               // (C) β
  float* sc = reinterpret_cast<float*>(area + kL.scratch);  // 2 diagonal blocks, fp32
  T* st = reinterpret_cast<T*>(area + kL.scratch);          // (16, kPs) 16-bit

  const int heads_qk = p.heads_v / p.group;
  const int heads_per_chunk = kPerValueHead ? p.heads_v : heads_qk;  // items per chunk
  const int items = p.seq.num_chunks * heads_per_chunk;
  const long long tpr = p.seq.tokens_per_row;

  // A work item: its chunk's first token and rows (rows < 0: a padding entry j = cis of the work
  // list), its query/key head and value heads.
  struct Item {
    long long first;
    int rows, cis, qk_head, head_begin, head_end;
  };
  const auto item_at = [&](int item) {
    const int chunk = item / heads_per_chunk;
    const int slot = item % heads_per_chunk;
    Item it;
    it.qk_head = kPerValueHead ? slot / p.group : slot;
    it.head_begin = kPerValueHead ? slot : it.qk_head * p.group;
    it.head_end = it.head_begin + (kPerValueHead ? 1 : p.group);
    const int seq = p.seq.chunk_index[2 * chunk];
    it.cis = p.seq.chunk_index[2 * chunk + 1];
    if (seq < 0) {
      it.first = 0;
      it.rows = -1;
      return it;
    }
    it.first = p.seq.cu_seqlens[seq] + static_cast<long long>(it.cis) * kChunk;
    const long long end = p.seq.cu_seqlens[seq + 1];
    it.rows = end - it.first < kChunk ? static_cast<int>(end - it.first) : kChunk;
    return it;
  };
  // β of value head `head` at the chunk's row lane + 32e (0 past the sequence end).
  const auto fetch_beta = [&](const Item& it, int head, float(&b)[kPerLane]) {
    const BetaT* bbase =
        static_cast<const BetaT*>(p.beta.data) + cuda::token_offset(p.beta, it.first, head, tpr);
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) {
      const int r = lane + 32 * e;
      b[e] = r < it.rows ? cuda::to_float(bbase[r * p.beta.stride_token]) : 0.f;
    }
  };
  // Starts the item's loads: the K tile (zero rows past the sequence end; a chunk lies in one batch
  // row, its tokens stride_token apart), the warp's first head's β and, with kFuseCumsum, its g.
  const auto start_item = [&](const Item& it, float(&b)[kPerLane], float(&gv)[kPerLane]) {
    if (it.rows < 0) return;
    constexpr int kSegs = kD / 8;
    T* ks = reinterpret_cast<T*>(smem + kL.k_tile);
    const T* kbase =
        static_cast<const T*>(p.k.data) + cuda::token_offset(p.k, it.first, it.qk_head, tpr);
    // Row r's 16-byte segment s (zeros past the sequence end).
    const auto load_row = [&](int r, int s) {
      const bool valid = r < it.rows;
      cuda::cp_async16(ks + r * kPk + s * 8, kbase + (valid ? r * p.k.stride_token + s * 8 : 0),
                       valid);
    };
    if constexpr (kRegisterRoom) {  // a thread's segment is fixed, its rows kThreads / kSegs apart
      static_assert(kThreads % kSegs == 0, "whole rows a pass");
      const int s = tid % kSegs;
#pragma unroll 4
      for (int r = tid / kSegs; r < kChunk; r += kThreads / kSegs) load_row(r, s);
    } else {
      for (int i = tid; i < kChunk * kSegs; i += kThreads) load_row(i / kSegs, i % kSegs);
    }
    cuda::cp_async_commit();
    const int head = it.head_begin + warp;
    if (head < it.head_end) {
      fetch_beta(it, head, b);
      if constexpr (kFuseCumsum) kkt_chunk_gate<kChunk>(p, it.first, it.rows, head, tpr, gv);
    }
  };

  int item = blockIdx.x;
  if (item >= items) return;
  Item cur = item_at(item);
  float beta_next[kPerLane] = {}, gate_next[kPerLane] = {};
  start_item(cur, beta_next, gate_next);
  for (; item < items; item += gridDim.x) {
    float beta_cur[kPerLane], gate_cur[kPerLane];
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) {
      beta_cur[e] = beta_next[e];
      gate_cur[e] = gate_next[e];
    }
    // The current K tile has landed and every warp is done with the previous item (its M).
    cuda::cp_async_wait<0>();
    __syncthreads();
    const int next = item + gridDim.x;
    const Item nxt = next < items ? item_at(next) : Item{0, -1, 0, 0, 0, 0};
    const Item it = cur;
    cur = nxt;
    if (it.rows < 0) {  // a padding entry j = cis of the work list: its K tile was never loaded
      if (next < items) start_item(nxt, beta_next, gate_next);
      if constexpr (kFuseCumsum) {  // zero g_out at rows cu_seqlens[N] + [j·C, (j+1)·C), as cumsum
        const long long pad0 =
            p.seq.cu_seqlens[p.seq.num_sequences] + static_cast<long long>(it.cis) * kChunk;
        for (int i = tid; i < kChunk * (it.head_end - it.head_begin); i += kThreads) {
          const long long tok = pad0 + i % kChunk;
          if (tok < p.seq.total_tokens)
            *cuda::token_ptr<float>(p.g_out, tok, it.head_begin + i / kChunk, tpr) = 0.f;
        }
      }
      continue;
    }
    const int rows = it.rows;
    // M = Lower(K Kᵀ) on tensor cores, shared by the item's value heads (each scales it by its β
    // where it reads it). The upper triangle is never read.
    if constexpr (kMOverK) {
      // M over the K tile, a block row a phase from the last, its lower 16 x 16 blocks split over
      // the warps (block n to warp n mod kWarps): each warp forms its blocks in registers (the
      // products and their order are the other path's, so M is bit for bit the same) and, once
      // every warp has read K for the phase, writes them. Row i's M lies at bytes ≥ 16i · (C + 8)
      // · 4, past the K rows below 16i (pitch 2 · 136) that the later phases read, where C = 64;
      // at C = 32 M's pitch is shorter, so there all rows are one phase.
      const T* ks = reinterpret_cast<const T*>(smem + kL.k_tile);
      const int j8 = lane / 8, r8 = lane % 8;
      constexpr bool kPhased = kPm * 4 >= kPk * 2;
      constexpr int kPhases = kPhased ? kRows : 1;
#pragma unroll
      for (int phase = 0; phase < kPhases; ++phase) {
        float mb[kRows][kRows][2][4] = {};  // [i][n]: block (i, n), n ≤ i, as two m16n8 tiles
#pragma unroll
        for (int i = kRows - 1; i >= 0; --i) {
          if (kPhased && i != kRows - 1 - phase) continue;
#pragma unroll
          for (int k0 = 0; k0 < kD; k0 += 16) {
            unsigned af[4];
            cuda::ldmatrix_x4(af, ks + (16 * i + lane % 16) * kPk + k0 + (lane / 16) * 8);
#pragma unroll
            for (int n = 0; n <= i; ++n) {
              if (n % kWarps != warp) continue;
              // Block (i, i)'s B fragments are the A fragments of the same rows, reordered (A's
              // matrices are rows 0-7 | 8-15 by columns 0-7 | 8-15, B's columns 0-7 | 8-15 by
              // rows).
              unsigned bf[4] = {af[0], af[2], af[1], af[3]};
              if (n != i)
                cuda::ldmatrix_x4(bf, ks + (16 * n + (j8 / 2) * 8 + r8) * kPk + k0 + (j8 % 2) * 8);
              cuda::mma_16816<T>(mb[i][n][0], af, bf[0], bf[1]);
              cuda::mma_16816<T>(mb[i][n][1], af, bf[2], bf[3]);
            }
          }
        }
        __syncthreads();  // the phase's reads of K are done
#pragma unroll
        for (int i = kRows - 1; i >= 0; --i) {
          if (kPhased && i != kRows - 1 - phase) continue;
#pragma unroll
          for (int n = 0; n <= i; ++n) {
            if (n % kWarps != warp) continue;
#pragma unroll
            for (int h = 0; h < 2; ++h)
#pragma unroll
              for (int q = 0; q < 4; q += 2) {  // columns c, c + 1 (c even) by one 8-byte store
                const int r = 16 * i + g + 4 * q, c = 16 * n + 8 * h + 2 * t;
                if (c <= r) kkt_store_pair(ms + r * kPm + c, mb[i][n][h][q], mb[i][n][h][q + 1]);
              }
          }
        }
      }
      __syncthreads();  // M is formed
    } else {
      const T* ks = reinterpret_cast<const T*>(smem + kL.k_tile);
      float kk[Tiling::kMT][Tiling::kNT][4];
      cuda::zero_acc(kk);
      const int m0 = Tiling::m0(warp);
      const int n0 = Tiling::n0(warp);
      cuda::warp_mma<T, false, false, Tiling::kMT, Tiling::kNT, kD>(kk, ks, kPk, ks, kPk, m0, n0);
      cuda::for_each_acc(kk, m0, n0, [&](int r, int c, float& x) {
        if (c <= r) ms[r * kPm + c] = x;
      });
      __syncthreads();  // M is formed and the K tile read by every warp: the next item's loads
                        // into it
      if (next < items) start_item(nxt, beta_next, gate_next);
    }

    for (int head = it.head_begin + warp; head < it.head_end; head += kWarps) {
      {  // β of the head at the chunk's rows: the first head's fetched with the item's K tile
        float b[kPerLane];
        if (head == it.head_begin + warp) {
#pragma unroll
          for (int e = 0; e < kPerLane; ++e) b[e] = beta_cur[e];
        } else {
          fetch_beta(it, head, b);
        }
#pragma unroll
        for (int e = 0; e < kPerLane; ++e) bw[lane + 32 * e] = b[e];
        __syncwarp();
      }
      if constexpr (kFuseCumsum) {  // the gate's cumsum (the first head's g fetched with K)
        if (head == it.head_begin + warp)
          kkt_chunk_cumsum_store<kChunk>(p, it.first, rows, head, tpr, gate_cur);
        else
          kkt_chunk_cumsum<kChunk>(p, it.first, rows, head, tpr);
      }
      // The diagonal β‖k‖² of diag(β) K Kᵀ tells whether the transition expands.
#pragma unroll
      for (int r = lane; r < kChunk; r += 32)
        if (bw[r] * ms[r * kPm + r] > 2.f && p.error) atomicOr(p.error, kCallErrorExpansiveKeys);

      // 1. Diagonal blocks, two a round (a half-warp each): lane j holds column j, x[s] = Y[s][j],
      // row by row: X[s][j] = δ_sj − β_s Σ_{r<s} M[s][r] X[r][j] (L[s][r] = β_s M[s][r]; β applied
      // once a row, after the sum: one FMA a term). Then every lane reads both blocks as fragments.
      float yd[kRows][2][4];         // Y_ii
      float yt[kRows][kRows][2][4];  // [i][j]: Y_ijᵀ (i > j), Y_jjᵀ (i == j)
#pragma unroll
      for (int round = 0; round < kRows / 2; ++round) {
        {
          const int half = lane / 16, col = lane % 16, base = 16 * (2 * round + half);
          float x[16];
#pragma unroll
          for (int s = 0; s < 16; ++s) x[s] = s == col ? 1.f : 0.f;
#pragma unroll
          for (int s = 1; s < 16; ++s) {
            float dot = 0.f;
#pragma unroll
            for (int r = 0; r < s; ++r) dot = fmaf(ms[(base + s) * kPm + base + r], x[r], dot);
            x[s] = fmaf(-bw[base + s], dot, x[s]);
          }
          float* out = sc + half * kL.diag_block;
#pragma unroll
          for (int s = 0; s < 16; ++s) out[s * kPd + col] = x[s];
        }
        __syncwarp();
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int b = 2 * round + half;
          const float* in = sc + half * kL.diag_block;
#pragma unroll
          for (int n = 0; n < 2; ++n)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
              const float2 v =
                  *reinterpret_cast<const float2*>(in + (g + 8 * h) * kPd + 8 * n + 2 * t);
              yd[b][n][2 * h] = v.x;
              yd[b][n][2 * h + 1] = v.y;
#pragma unroll
              for (int e = 0; e < 2; ++e)
                yt[b][b][n][2 * h + e] = in[(8 * n + 2 * t + e) * kPd + g + 8 * h];
            }
        }
        __syncwarp();
      }

      T* abase = static_cast<T*>(p.a.data) + cuda::token_offset(p.a, it.first, head, tpr);
#pragma unroll
      for (int i = 0; i < kRows; ++i) {
        // 2. Block row i: Z_ijᵀ = Σ_{j≤k<i} Y_kjᵀ L_ikᵀ with L_ikᵀ(m, b) = β_b M(16i + b, 16k + m),
        // its B fragments read once per k; −β scales the columns; Y_ijᵀ = (−Z_ijᵀ) Y_iiᵀ.
        if (i > 0) {
          unsigned lf[kRows][2][2][2];
#pragma unroll
          for (int k = 0; k < i; ++k)
#pragma unroll
            for (int s = 0; s < 2; ++s)
#pragma unroll
              for (int nb = 0; nb < 2; ++nb) {
                const float2 v = *reinterpret_cast<const float2*>(ms + (16 * i + 8 * nb + g) * kPm +
                                                                  16 * k + 8 * s + 2 * t);
                lf[k][s][nb][0] = kkt_tf32(v.x);
                lf[k][s][nb][1] = kkt_tf32(v.y);
              }
          float nbeta[2][2];
#pragma unroll
          for (int nb = 0; nb < 2; ++nb)
#pragma unroll
            for (int e = 0; e < 2; ++e) nbeta[nb][e] = -bw[16 * i + 8 * nb + 2 * t + e];
          unsigned ydb[2][2][2];
          kkt_block_transposed_b(ydb, yd[i]);
#pragma unroll
          for (int j = 0; j < i; ++j) {
            float z[2][4] = {};
#pragma unroll
            for (int k = j; k < i; ++k) kkt_block_mma(z, yt[k][j], lf[k]);
#pragma unroll
            for (int nb = 0; nb < 2; ++nb)
#pragma unroll
              for (int r = 0; r < 4; ++r) z[nb][r] *= nbeta[nb][r % 2];
            float y[2][4] = {};
            kkt_block_mma(y, z, ydb);
#pragma unroll
            for (int nb = 0; nb < 2; ++nb)
#pragma unroll
              for (int r = 0; r < 4; ++r) yt[i][j][nb][r] = y[nb][r];
          }
        }
        // 3. Block row i into the staging tile (16-bit): Y_ii from its fragments, Y_ij from Y_ijᵀ's
        // (lane holds Y(8n + 2t + e, 16j + g + 8h)); then full rows of the chunk's A_r, 16 bytes a
        // lane, zeros right of the diagonal block.
#pragma unroll
        for (int n = 0; n < 2; ++n)
#pragma unroll
          for (int h = 0; h < 2; ++h)
            *reinterpret_cast<unsigned*>(st + (g + 8 * h) * kPs + 16 * i + 8 * n + 2 * t) =
                cuda::pack2<T>(yd[i][n][2 * h], yd[i][n][2 * h + 1]);
#if __CUDA_ARCH__ >= 900
        {  // each Y_ij by one stmatrix.trans of Y_ijᵀ's fragments packed in pairs: matrix q is
           // Y_ijᵀ's rows 8(q % 2).., columns 8(q / 2).., stored transposed at Y_ij's rows 8(q /
           // 2).., columns 8(q % 2)..; lane l gives the address of row l % 8 of matrix l / 8
          T* const rows_at = st + ((lane & 7) + 8 * (lane >> 4)) * kPs + 8 * ((lane >> 3) & 1);
#pragma unroll
          for (int j = 0; j < i; ++j) {
            const unsigned y4[4] = {cuda::pack2<T>(yt[i][j][0][0], yt[i][j][0][1]),
                                    cuda::pack2<T>(yt[i][j][0][2], yt[i][j][0][3]),
                                    cuda::pack2<T>(yt[i][j][1][0], yt[i][j][1][1]),
                                    cuda::pack2<T>(yt[i][j][1][2], yt[i][j][1][3])};
            cuda::stmatrix_x4_trans(rows_at + 16 * j, y4);
          }
        }
#else
#pragma unroll
        for (int j = 0; j < i; ++j)
#pragma unroll
          for (int n = 0; n < 2; ++n)
#pragma unroll
            for (int r = 0; r < 4; ++r)
              st[(8 * n + 2 * t + r % 2) * kPs + 16 * j + 8 * (r / 2) + g] =
                  cuda::from_float<T>(yt[i][j][n][r]);
#endif
        __syncwarp();
        constexpr int kGroups = kChunk / 8;  // 16-byte groups of a row
        if constexpr (kRegisterRoom) {  // lane l: group l % kGroups of rows l / kGroups + kStep·u
          constexpr int kStep = 32 / kGroups;  // rows a pass of the warp
          const int grp = lane % kGroups, rr0 = lane / kGroups;
          const bool lower = grp * 8 < 16 * (i + 1);  // else right of the diagonal block: zeros
          const T* from = st + rr0 * kPs + grp * 8;
          T* to = abase + (16 * i + rr0) * p.a.stride_token + grp * 8;
#pragma unroll
          for (int u = 0; u < 16 / kStep; ++u)
            if (16 * i + rr0 + kStep * u < rows)
              *reinterpret_cast<uint4*>(to + kStep * u * p.a.stride_token) =
                  lower ? *reinterpret_cast<const uint4*>(from + kStep * u * kPs)
                        : make_uint4(0, 0, 0, 0);
        } else {
#pragma unroll
          for (int e = lane; e < 16 * kGroups; e += 32) {
            const int rr = e / kGroups, grp = e % kGroups, r = 16 * i + rr;
            if (r < rows) {
              const uint4 v = grp * 8 < 16 * (i + 1)
                                  ? *reinterpret_cast<const uint4*>(st + rr * kPs + grp * 8)
                                  : make_uint4(0, 0, 0, 0);
              *reinterpret_cast<uint4*>(abase + r * p.a.stride_token + grp * 8) = v;
            }
          }
        }
        __syncwarp();
      }
    }
    if constexpr (kMOverK) {
      __syncthreads();  // every warp is done with M: the next item's K tile may overwrite it
      if (next < items) start_item(nxt, beta_next, gate_next);
    }
  }
}

}  // namespace qla::gdn
