// The compute of the fused forward, shared by both fused_fwd kernels: the plain one where every
// warp loads and computes (fused_fwd.cuh) and the warp-specialised one where a producer warpgroup
// loads and the consumer warps compute (fused_fwd_ws.cuh). One group of kWarps warps owns the fp32
// state slice S (128, BV) and walks the chunks. Per chunk (g = chunk-local cumsum, L = last row):
//   U   = K S                         (C,128)(128,BV)   W = V − e^g ⊙ U  (written over the v tile)
//   P_g = scale · G ⊙ (Q Kᵀ)           (C,128)(128,C)    G[s,t] = e^{g_s − g_t}, s ≥ t
//   A_g = G ⊙ A_r ⊙ β_col               (written over the A_r tile)
//   V_d = A_g W                        (C,C)(C,BV)
//   O   = scale · e^g ⊙ (Q S) + P_g V_d
//   S  ← e^{g_L} S + K'ᵀ V_d,  K' = e^{g_L − g} ⊙ K (0 on padded rows; written over the k tile)
// Every GEMM is mma.sync m16n8k16 with fp16 operands and fp32 accumulators: bf16 inputs are
// converted to fp16 in shared memory by whoever loads them (exact for |x| < 65504), so that the
// intermediates S, W, A_g, P_g, V_d, K' carry 11 bits instead of bf16's 8 — with bf16 intermediates
// the error lands at FLA's 3.5–4.2e-3, too close to the 5e-3 bar. The warps of the group split each
// GEMM's output (cuda::WarpTiling). Compiles under nvcc and NVRTC.
#pragma once

#include "common/mma.cuh"
#include "qla/gdn/fused_params.hpp"

namespace qla::gdn {

/// The per-chunk compute and the state handling of one kWarps-warp group. `tid`/`warp` are the
/// thread's and the warp's index inside the group; `sync` is a barrier over exactly the group's
/// threads.
template <int kChunk, int kBV, int kWarps, bool kStateSmem, class T>
struct FusedFwdStep {
  static_assert(kChunk == 32 || kChunk == 64, "chunk size");
  static_assert(kBV == 32 || kBV == 64 || kBV == 128, "V-slice width");
  using Tc = __half;  // GEMM operand type (see the header comment)
  static constexpr int kD = kFusedHeadDim;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kPq = fused_pitch16(kD);
  static constexpr int kPv = fused_pitch16(kBV);
  static constexpr int kPa = fused_pitch16(kChunk);
  static constexpr int kPs = fused_pitch32(kBV);
  using TileO = cuda::WarpTiling<kChunk, kBV, kWarps>;     // U, V_d, O
  using TileP = cuda::WarpTiling<kChunk, kChunk, kWarps>;  // P
  using TileS = cuda::WarpTiling<kD, kBV, kWarps>;         // S
  /// The state slice when it lives in registers (unused with kStateSmem).
  using StateRegs = float[TileS::kMT][TileS::kNT][4];

  /// The group's own shared memory (not per stage).
  struct Shared {
    Tc* s16;     ///< (128, BV) fp16 copy of the state: the GEMM operand of K·S and Q·S
    Tc* vd;      ///< (C, BV) V_d
    Tc* pg;      ///< (C, C) P_g
    float* s32;  ///< (128, BV) fp32 state, pitch kPs, when kStateSmem
  };
  /// One chunk's inputs in shared memory (16-bit tiles already in fp16).
  struct Chunk {
    Tc* q;              ///< (C, 128)
    Tc* k;              ///< (C, 128), overwritten with K'
    Tc* v;              ///< (C, BV), overwritten with W
    Tc* a;              ///< (C, C) A_r, overwritten with A_g
    const float* g;     ///< (C) g_cum; padded rows repeat the last valid row
    const float* beta;  ///< (C) β, 0 on padded rows
    int rows;           ///< valid rows
    long long first;    ///< flat token of row 0
  };

  /// Where this CTA writes: output head, V-slice origin, token-row pitch of the flat token index.
  struct Out {
    int head;
    int v0;
    long long tokens_per_row;
  };

  __device__ static void load_state(StateRegs& sreg, const Shared& sh, const float* h0, int v0,
                                    int tid, int warp) {
    if constexpr (!kStateSmem) {
      cuda::for_each_acc(sreg, TileS::m0(warp), TileS::n0(warp),
                         [&](int r, int c, float& x) { x = h0 ? h0[r * kD + v0 + c] : 0.f; });
    } else {
      for (int i = tid; i < kD * kBV; i += kThreads) {
        const int r = i / kBV, c = i % kBV;
        sh.s32[r * kPs + c] = h0 ? h0[r * kD + v0 + c] : 0.f;
      }
    }
  }

  __device__ static void store_state(StateRegs& sreg, const Shared& sh, float* ht, int v0, int tid,
                                     int warp) {
    if constexpr (!kStateSmem) {
      cuda::for_each_acc(sreg, TileS::m0(warp), TileS::n0(warp),
                         [&](int r, int c, float& x) { ht[r * kD + v0 + c] = x; });
    } else {
      for (int i = tid; i < kD * kBV; i += kThreads) {
        const int r = i / kBV, c = i % kBV;
        ht[r * kD + v0 + c] = sh.s32[r * kPs + c];
      }
    }
  }

  /// The fp16 operand copy of the state; the group must sync before anyone reads it.
  __device__ static void write_s16(StateRegs& sreg, const Shared& sh, int tid, int warp) {
    if constexpr (!kStateSmem) {
      cuda::for_each_acc(sreg, TileS::m0(warp), TileS::n0(warp),
                         [&](int r, int c, float& x) { sh.s16[r * kPv + c] = __float2half_rn(x); });
    } else {
      for (int i = tid; i < kD * kBV; i += kThreads) {
        const int r = i / kBV, c = i % kBV;
        sh.s16[r * kPv + c] = __float2half_rn(sh.s32[r * kPs + c]);
      }
    }
  }

  /// One chunk: o rows to global memory and the state advanced. Expects the chunk's tiles, g, β and
  /// the state copy visible to the whole group; syncs twice inside; returns with the group's reads
  /// of the chunk's tiles and of s16 possibly still in flight (the caller syncs before reusing
  /// them).
  template <class Sync>
  __device__ static void step(const FusedFwdParams& p, const Chunk& ch, const Shared& sh,
                              StateRegs& sreg, const Out& out, int tid, int warp, Sync&& sync) {
    const int so_m0 = TileO::m0(warp), so_n0 = TileO::n0(warp);
    const int sp_m0 = TileP::m0(warp), sp_n0 = TileP::n0(warp);
    const float* gs = ch.g;
    const float g_last = gs[kChunk - 1];
    const float scale = p.scale;

    // Phase 1: W = V − e^g ⊙ (K S) over the v tile; P_g; A_g over the A_r tile.
    {
      float acc[TileO::kMT][TileO::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, false, true, TileO::kMT, TileO::kNT, kD>(acc, ch.k, kPq, sh.s16, kPv,
                                                                  so_m0, so_n0);
      cuda::for_each_acc(acc, so_m0, so_n0, [&](int r, int cc, float& x) {
        Tc* e = ch.v + r * kPv + cc;
        *e = __float2half_rn(__half2float(*e) - __expf(gs[r]) * x);
      });
    }
    {
      float acc[TileP::kMT][TileP::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, false, false, TileP::kMT, TileP::kNT, kD>(acc, ch.q, kPq, ch.k, kPq, sp_m0,
                                                                   sp_n0);
      cuda::for_each_acc(acc, sp_m0, sp_n0, [&](int r, int cc, float& x) {
        sh.pg[r * kPa + cc] = __float2half_rn(cc <= r ? scale * __expf(gs[r] - gs[cc]) * x : 0.f);
      });
    }
    for (int i = tid; i < kChunk * kChunk; i += kThreads) {
      const int r = i / kChunk, cc = i % kChunk;
      Tc* e = ch.a + r * kPa + cc;
      *e = __float2half_rn(cc <= r ? __expf(gs[r] - gs[cc]) * __half2float(*e) * ch.beta[cc] : 0.f);
    }
    sync();  // (2)

    // Phase 2: V_d = A_g W; K' = e^{g_L − g} ⊙ K (0 on padded rows).
    {
      float acc[TileO::kMT][TileO::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, false, true, TileO::kMT, TileO::kNT, kChunk>(acc, ch.a, kPa, ch.v, kPv,
                                                                      so_m0, so_n0);
      cuda::for_each_acc(acc, so_m0, so_n0, [&](int r, int cc, float& x) {
        sh.vd[r * kPv + cc] = __float2half_rn(x);
      });
    }
    for (int i = tid; i < kChunk * (kD / 2); i += kThreads) {
      const int r = i / (kD / 2), cc = 2 * (i % (kD / 2));
      const float tail = r < ch.rows ? __expf(g_last - gs[r]) : 0.f;
      __half2* e = reinterpret_cast<__half2*>(ch.k + r * kPq + cc);
      const float2 f = __half22float2(*e);
      *e = __floats2half2_rn(f.x * tail, f.y * tail);
    }
    sync();  // (3)

    // Phase 3: O = scale·e^g ⊙ (Q S) + P_g V_d → global; S ← e^{g_L} S + K'ᵀ V_d.
    {
      float acc[TileO::kMT][TileO::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, false, true, TileO::kMT, TileO::kNT, kD>(acc, ch.q, kPq, sh.s16, kPv,
                                                                  so_m0, so_n0);
      cuda::for_each_acc(acc, so_m0, so_n0,
                         [&](int r, int, float& x) { x *= scale * __expf(gs[r]); });
      cuda::warp_mma<Tc, false, true, TileO::kMT, TileO::kNT, kChunk>(acc, sh.pg, kPa, sh.vd, kPv,
                                                                      so_m0, so_n0);
      T* obase = static_cast<T*>(p.o.data);
      cuda::for_each_acc(acc, so_m0, so_n0, [&](int r, int cc, float& x) {
        if (r < ch.rows)
          obase[cuda::token_offset(p.o, ch.first + r, out.head, out.tokens_per_row) + out.v0 + cc] =
              cuda::from_float<T>(x);
      });
    }
    const int ss_m0 = TileS::m0(warp), ss_n0 = TileS::n0(warp);
    const float decay = __expf(g_last);
    if constexpr (!kStateSmem) {
      cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int, int, float& x) { x *= decay; });
      cuda::warp_mma<Tc, true, true, TileS::kMT, TileS::kNT, kChunk>(sreg, ch.k, kPq, sh.vd, kPv,
                                                                     ss_m0, ss_n0);
    } else {
      float acc[TileS::kMT][TileS::kNT][4];
      cuda::for_each_acc(acc, ss_m0, ss_n0,
                         [&](int r, int cc, float& x) { x = decay * sh.s32[r * kPs + cc]; });
      cuda::warp_mma<Tc, true, true, TileS::kMT, TileS::kNT, kChunk>(acc, ch.k, kPq, sh.vd, kPv,
                                                                     ss_m0, ss_n0);
      cuda::for_each_acc(acc, ss_m0, ss_n0,
                         [&](int r, int cc, float& x) { sh.s32[r * kPs + cc] = x; });
    }
  }

  /// The last sequence's CTAs zero the padding rows after cu_seqlens[N] of their V-slice.
  __device__ static void zero_padding(const FusedFwdParams& p, int seq, const Out& out, int tid) {
    if (seq != p.seq.num_sequences - 1) return;
    const long long pad0 = p.seq.cu_seqlens[p.seq.num_sequences];
    constexpr int kSv = kBV / 8;
    T* obase = static_cast<T*>(p.o.data);
    for (long long i = tid; i < (p.seq.total_tokens - pad0) * kSv; i += kThreads) {
      const long long f = pad0 + i / kSv;
      const int s = static_cast<int>(i % kSv);
      *reinterpret_cast<uint4*>(obase + cuda::token_offset(p.o, f, out.head, out.tokens_per_row) +
                                out.v0 + s * 8) = make_uint4(0, 0, 0, 0);
    }
  }
};

/// The CTA's work item: (sequence or CP piece, value head, V-slice), V-slice fastest in blockIdx.x.
struct FusedFwdTile {
  int seq, head, qk_head, v0;
  long long start, len;
  int nchunks;
};
template <int kChunk, int kBV>
__device__ __forceinline__ FusedFwdTile fused_fwd_tile(const FusedFwdParams& p) {
  constexpr int kSlices = kFusedHeadDim / kBV;
  FusedFwdTile t;
  t.head = (blockIdx.x / kSlices) % p.heads_v;
  t.seq = blockIdx.x / (kSlices * p.heads_v);
  t.v0 = (blockIdx.x % kSlices) * kBV;
  t.qk_head = t.head / p.group;
  t.start = p.seq.cu_seqlens[t.seq];
  t.len = p.seq.cu_seqlens[t.seq + 1] - t.start;
  t.nchunks = static_cast<int>((t.len + kChunk - 1) / kChunk);
  return t;
}

/// Calls f(dst, tensor, flat token, head, column, valid) for every 16-byte segment of chunk c's q,
/// k, v-slice and A_r rows that thread `tid` of `threads` owns (stage offsets l.q, l.k, l.v, l.a)
/// (zero rows past the sequence end are !valid). A thread always owns the same segments of a stage,
/// so it can convert exactly what it copied after its own wait.
template <int kChunk, int kBV, class Layout, class F>
__device__ __forceinline__ void fused_fwd_stage_segments(const FusedFwdParams& p,
                                                         const FusedFwdTile& t,
                                                         unsigned char* stage, const Layout& l,
                                                         int c, int tid, int threads, F&& f) {
  using Tc = __half;
  constexpr int kD = kFusedHeadDim;
  constexpr int kPq = fused_pitch16(kD), kPv = fused_pitch16(kBV), kPa = fused_pitch16(kChunk);
  constexpr int kSq = kD / 8, kSv = kBV / 8, kSa = kChunk / 8;
  const long long cs = t.start + static_cast<long long>(c) * kChunk;
  const long long left = t.len - static_cast<long long>(c) * kChunk;
  const int rows = left < kChunk ? static_cast<int>(left) : kChunk;
  for (int i = tid; i < kChunk * kSq; i += threads) {
    const int r = i / kSq, s = i % kSq;
    f(reinterpret_cast<Tc*>(stage + l.q) + r * kPq + s * 8, p.q, cs + r, t.qk_head, s * 8,
      r < rows);
    f(reinterpret_cast<Tc*>(stage + l.k) + r * kPq + s * 8, p.k, cs + r, t.qk_head, s * 8,
      r < rows);
  }
  for (int i = tid; i < kChunk * kSv; i += threads) {
    const int r = i / kSv, s = i % kSv;
    f(reinterpret_cast<Tc*>(stage + l.v) + r * kPv + s * 8, p.v, cs + r, t.head, t.v0 + s * 8,
      r < rows);
  }
  for (int i = tid; i < kChunk * kSa; i += threads) {
    const int r = i / kSa, s = i % kSa;
    f(reinterpret_cast<Tc*>(stage + l.a) + r * kPa + s * 8, p.a, cs + r, t.head, s * 8, r < rows);
  }
}

/// g and β of row `r` of chunk c (padded rows: g of the last valid row, β = 0).
template <int kChunk, class BetaT>
__device__ __forceinline__ void fused_fwd_gate_row(const FusedFwdParams& p, const FusedFwdTile& t,
                                                   int c, int r, float& g, float& beta) {
  const long long tpr = p.seq.tokens_per_row;
  const long long cs = t.start + static_cast<long long>(c) * kChunk;
  const long long left = t.len - static_cast<long long>(c) * kChunk;
  const int rows = left < kChunk ? static_cast<int>(left) : kChunk;
  const int rr = r < rows ? r : rows - 1;
  g = static_cast<const float*>(p.g.data)[cuda::token_offset(p.g, cs + rr, t.head, tpr)];
  beta = r < rows ? cuda::to_float(static_cast<const BetaT*>(
                        p.beta.data)[cuda::token_offset(p.beta, cs + rr, t.head, tpr)])
                  : 0.f;
}

}  // namespace qla::gdn
