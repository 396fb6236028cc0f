// fused_fwd: the FlashQLA-style fused forward (GDN.md §1.4b, §2.3). One CTA per (sequence or CP piece, value
// head, V-slice of BV columns) walks its chunks in order, keeping the fp32 state slice S (128, BV) in registers
// (or shared memory), and writes only o and the final state. Per chunk (g = chunk-local cumsum, L = last row):
//   U   = K S                         (C,128)(128,BV)   W = V − e^g ⊙ U  (written over the v tile)
//   P_g = scale · G ⊙ (Q Kᵀ)           (C,128)(128,C)    G[s,t] = e^{g_s − g_t}, s ≥ t
//   A_g = G ⊙ A_r ⊙ β_col               (written over the A_r tile)
//   V_d = A_g W                        (C,C)(C,BV)
//   O   = scale · e^g ⊙ (Q S) + P_g V_d
//   S  ← e^{g_L} S + K'ᵀ V_d,  K' = e^{g_L − g} ⊙ K (0 on padded rows; written over the k tile)
// Inputs arrive through a cp.async ring of kStages stages (the load of chunk c + kStages − 1 overlaps chunk c);
// g and β are prefetched one chunk ahead in registers. Every GEMM is mma.sync m16n8k16 with fp16 operands and
// fp32 accumulators: bf16 inputs are converted to fp16 in shared memory (exact for |x| < 65504) so that the
// intermediates S, W, A_g, P_g, V_d, K' carry 11 bits instead of bf16's 8 — with bf16 intermediates the error
// lands at FLA's 3.5–4.2e-3, too close to the 5e-3 bar. Phases are separated by __syncthreads; the warps of a
// phase split each GEMM's output (cuda::WarpTiling), which can grow into warp-specialised roles.
// Compiles under nvcc and NVRTC.
#pragma once

#include "common/mma.cuh"
#include "qla/gdn/fused_params.hpp"

namespace qla::gdn {

/// kChunk: C (32 or 64); kBV: V-slice width (32, 64, 128); kStages: input ring depth (1..3); kWarps: 4 or 8;
/// kStateSmem: keep the fp32 state in shared memory instead of registers; T: qkv dtype; BetaT: float or T.
template <int kChunk, int kBV, int kStages, int kWarps, bool kStateSmem, class T, class BetaT>
__global__ void __launch_bounds__(kWarps * 32) fused_fwd_kernel(FusedFwdParams p) {
  static_assert(kChunk == 32 || kChunk == 64, "chunk size");
  static_assert(kBV == 32 || kBV == 64 || kBV == 128, "V-slice width");
  static_assert(kStages >= 1 && kStages <= 3, "stages");
  using Tc = __half;  // GEMM operand type (see the header comment)
  constexpr bool kConvert = !cuda::IsSame<T, __half>::value;  // bf16 → fp16 in shared memory
  constexpr int kD = kFusedHeadDim;
  constexpr int kThreads = kWarps * 32;
  constexpr int kPq = fused_pitch16(kD);
  constexpr int kPv = fused_pitch16(kBV);
  constexpr int kPa = fused_pitch16(kChunk);
  constexpr int kPs = fused_pitch32(kBV);
  constexpr FusedFwdLayout kL = fused_fwd_layout(kChunk, kBV, kStages, kStateSmem);
  using TileO = cuda::WarpTiling<kChunk, kBV, kWarps>;   // U, V_d, O
  using TileP = cuda::WarpTiling<kChunk, kChunk, kWarps>;  // P
  using TileS = cuda::WarpTiling<kD, kBV, kWarps>;       // S

  extern __shared__ __align__(128) unsigned char smem[];
  Tc* s16 = reinterpret_cast<Tc*>(smem + kL.s16);        // (128, BV) fp16 state copy
  Tc* vds = reinterpret_cast<Tc*>(smem + kL.vd);         // (C, BV) V_d
  Tc* pgs = reinterpret_cast<Tc*>(smem + kL.pg);         // (C, C) P_g
  float* gs = reinterpret_cast<float*>(smem + kL.g);     // (C) g_cum, padded rows = g of the last valid row
  float* bs = reinterpret_cast<float*>(smem + kL.beta);  // (C) β, 0 on padded rows
  float* s32 = reinterpret_cast<float*>(smem + kL.s32);  // (128, BV) fp32 state when kStateSmem

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  constexpr int kSlices = kD / kBV;
  const int vslice = blockIdx.x % kSlices;
  const int head = (blockIdx.x / kSlices) % p.heads_v;
  const int seq = blockIdx.x / (kSlices * p.heads_v);
  const int v0 = vslice * kBV;
  const int qk_head = head / p.group;
  const long long tpr = p.seq.tokens_per_row;
  const long long start = p.seq.cu_seqlens[seq];
  const long long len = p.seq.cu_seqlens[seq + 1] - start;
  const int nchunks = static_cast<int>((len + kChunk - 1) / kChunk);
  const int so_m0 = TileO::m0(warp), so_n0 = TileO::n0(warp);
  const int sp_m0 = TileP::m0(warp), sp_n0 = TileP::n0(warp);
  const int ss_m0 = TileS::m0(warp), ss_n0 = TileS::n0(warp);

  auto rows_of = [&](int c) {
    const long long r = len - static_cast<long long>(c) * kChunk;
    return r < kChunk ? static_cast<int>(r) : kChunk;
  };

  // Issues the cp.async copies of chunk c into stage b (zero rows past the sequence end). Thread i always
  // copies the same segments of a stage, so it can convert exactly what it copied after its own wait.
  auto for_stage_segments = [&](int c, int b, auto&& f) {
    unsigned char* st = smem + b * kL.stage_bytes;
    const long long cs = start + static_cast<long long>(c) * kChunk;
    const int rows = rows_of(c);
    constexpr int kSq = kD / 8, kSv = kBV / 8, kSa = kChunk / 8;
    for (int i = tid; i < kChunk * kSq; i += kThreads) {
      const int r = i / kSq, s = i % kSq;
      f(reinterpret_cast<Tc*>(st + kL.q) + r * kPq + s * 8, p.q, cs + r, qk_head, s * 8, r < rows);
      f(reinterpret_cast<Tc*>(st + kL.k) + r * kPq + s * 8, p.k, cs + r, qk_head, s * 8, r < rows);
    }
    for (int i = tid; i < kChunk * kSv; i += kThreads) {
      const int r = i / kSv, s = i % kSv;
      f(reinterpret_cast<Tc*>(st + kL.v) + r * kPv + s * 8, p.v, cs + r, head, v0 + s * 8, r < rows);
    }
    for (int i = tid; i < kChunk * kSa; i += kThreads) {
      const int r = i / kSa, s = i % kSa;
      f(reinterpret_cast<Tc*>(st + kL.a) + r * kPa + s * 8, p.a, cs + r, head, s * 8, r < rows);
    }
  };
  auto load_stage = [&](int c, int b) {
    for_stage_segments(c, b, [&](Tc* dst, const TokenTensor& x, long long f, int h, int col, bool valid) {
      const T* base = static_cast<const T*>(x.data);
      cuda::cp_async16(dst, valid ? base + cuda::token_offset(x, f, h, tpr) + col : base, valid);
    });
  };
  auto convert_stage = [&](int c, int b) {
    for_stage_segments(c, b, [&](Tc* dst, const TokenTensor&, long long, int, int, bool valid) {
      if (valid) cuda::bf16x8_to_f16x8(dst);
    });
  };

  // g and β of chunk c for row tid, prefetched into registers one chunk ahead.
  float g_next = 0.f, b_next = 0.f;
  auto fetch_gb = [&](int c) {
    if (tid < kChunk && c < nchunks) {
      const long long cs = start + static_cast<long long>(c) * kChunk;
      const int rows = rows_of(c);
      const int r = tid < rows ? tid : rows - 1;
      g_next = static_cast<const float*>(p.g.data)[cuda::token_offset(p.g, cs + r, head, tpr)];
      b_next = tid < rows
                   ? cuda::to_float(static_cast<const BetaT*>(p.beta.data)[cuda::token_offset(p.beta, cs + r, head, tpr)])
                   : 0.f;
    }
  };

  // Initial state.
  [[maybe_unused]] float sreg[TileS::kMT][TileS::kNT][4];
  {
    const int row = p.h0 ? (p.h0_index ? p.h0_index[seq] : seq) : -1;
    const float* h0 = row >= 0 ? p.h0 + (static_cast<long long>(row) * p.heads_v + head) * kD * kD : nullptr;
    if constexpr (!kStateSmem) {
      cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int r, int c, float& x) { x = h0 ? h0[r * kD + v0 + c] : 0.f; });
    } else {
      for (int i = tid; i < kD * kBV; i += kThreads) {
        const int r = i / kBV, c = i % kBV;
        s32[r * kPs + c] = h0 ? h0[r * kD + v0 + c] : 0.f;
      }
    }
  }
  auto write_s16 = [&]() {
    if constexpr (!kStateSmem) {
      cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int r, int c, float& x) { s16[r * kPv + c] = __float2half_rn(x); });
    } else {
      for (int i = tid; i < kD * kBV; i += kThreads) {
        const int r = i / kBV, c = i % kBV;
        s16[r * kPv + c] = __float2half_rn(s32[r * kPs + c]);
      }
    }
  };
  write_s16();

  if constexpr (kStages > 1) {
#pragma unroll
    for (int i = 0; i < kStages - 1; ++i) {
      if (i < nchunks) load_stage(i, i);
      cuda::cp_async_commit();
    }
  }
  fetch_gb(0);

  for (int c = 0; c < nchunks; ++c) {
    const int b = c % kStages;
    if constexpr (kStages == 1) {
      load_stage(c, 0);
      cuda::cp_async_commit();
      cuda::cp_async_wait<0>();
    } else {
      cuda::cp_async_wait<kStages - 2>();
    }
    if constexpr (kConvert) convert_stage(c, b);
    if (tid < kChunk) {
      gs[tid] = g_next;
      bs[tid] = b_next;
    }
    __syncthreads();  // (1) stage c, g/β and the state copy are visible
    if constexpr (kStages > 1) {
      const int cn = c + kStages - 1;
      if (cn < nchunks) load_stage(cn, cn % kStages);
      cuda::cp_async_commit();
    }
    fetch_gb(c + 1);

    unsigned char* st = smem + b * kL.stage_bytes;
    Tc* qs = reinterpret_cast<Tc*>(st + kL.q);  // (C, 128)
    Tc* ks = reinterpret_cast<Tc*>(st + kL.k);  // (C, 128)
    Tc* vs = reinterpret_cast<Tc*>(st + kL.v);  // (C, BV)
    Tc* as = reinterpret_cast<Tc*>(st + kL.a);  // (C, C)
    const int rows = rows_of(c);
    const long long cs = start + static_cast<long long>(c) * kChunk;
    const float g_last = gs[kChunk - 1];

    // Phase 1: W = V − e^g ⊙ (K S) over the v tile; P_g; A_g over the A_r tile.
    {
      float acc[TileO::kMT][TileO::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, false, true, TileO::kMT, TileO::kNT, kD>(acc, ks, kPq, s16, kPv, so_m0, so_n0);
      cuda::for_each_acc(acc, so_m0, so_n0, [&](int r, int cc, float& x) {
        Tc* e = vs + r * kPv + cc;
        *e = __float2half_rn(__half2float(*e) - __expf(gs[r]) * x);
      });
    }
    {
      float acc[TileP::kMT][TileP::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, false, false, TileP::kMT, TileP::kNT, kD>(acc, qs, kPq, ks, kPq, sp_m0, sp_n0);
      const float scale = p.scale;
      cuda::for_each_acc(acc, sp_m0, sp_n0, [&](int r, int cc, float& x) {
        pgs[r * kPa + cc] = __float2half_rn(cc <= r ? scale * __expf(gs[r] - gs[cc]) * x : 0.f);
      });
    }
    for (int i = tid; i < kChunk * kChunk; i += kThreads) {
      const int r = i / kChunk, cc = i % kChunk;
      Tc* e = as + r * kPa + cc;
      *e = __float2half_rn(cc <= r ? __expf(gs[r] - gs[cc]) * __half2float(*e) * bs[cc] : 0.f);
    }
    __syncthreads();  // (2)

    // Phase 2: V_d = A_g W; K' = e^{g_L − g} ⊙ K (0 on padded rows).
    {
      float acc[TileO::kMT][TileO::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, false, true, TileO::kMT, TileO::kNT, kChunk>(acc, as, kPa, vs, kPv, so_m0, so_n0);
      cuda::for_each_acc(acc, so_m0, so_n0, [&](int r, int cc, float& x) { vds[r * kPv + cc] = __float2half_rn(x); });
    }
    for (int i = tid; i < kChunk * (kD / 2); i += kThreads) {
      const int r = i / (kD / 2), cc = 2 * (i % (kD / 2));
      const float tail = r < rows ? __expf(g_last - gs[r]) : 0.f;
      __half2* e = reinterpret_cast<__half2*>(ks + r * kPq + cc);
      const float2 f = __half22float2(*e);
      *e = __floats2half2_rn(f.x * tail, f.y * tail);
    }
    __syncthreads();  // (3)

    // Phase 3: O = scale·e^g ⊙ (Q S) + P_g V_d → global; S ← e^{g_L} S + K'ᵀ V_d.
    {
      float acc[TileO::kMT][TileO::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, false, true, TileO::kMT, TileO::kNT, kD>(acc, qs, kPq, s16, kPv, so_m0, so_n0);
      const float scale = p.scale;
      cuda::for_each_acc(acc, so_m0, so_n0, [&](int r, int, float& x) { x *= scale * __expf(gs[r]); });
      cuda::warp_mma<Tc, false, true, TileO::kMT, TileO::kNT, kChunk>(acc, pgs, kPa, vds, kPv, so_m0, so_n0);
      T* obase = static_cast<T*>(p.o.data);
      cuda::for_each_acc(acc, so_m0, so_n0, [&](int r, int cc, float& x) {
        if (r < rows) obase[cuda::token_offset(p.o, cs + r, head, tpr) + v0 + cc] = cuda::from_float<T>(x);
      });
    }
    const float decay = __expf(g_last);
    if constexpr (!kStateSmem) {
      cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int, int, float& x) { x *= decay; });
      cuda::warp_mma<Tc, true, true, TileS::kMT, TileS::kNT, kChunk>(sreg, ks, kPq, vds, kPv, ss_m0, ss_n0);
    } else {
      float acc[TileS::kMT][TileS::kNT][4];
      cuda::for_each_acc(acc, ss_m0, ss_n0, [&](int r, int cc, float& x) { x = decay * s32[r * kPs + cc]; });
      cuda::warp_mma<Tc, true, true, TileS::kMT, TileS::kNT, kChunk>(acc, ks, kPq, vds, kPv, ss_m0, ss_n0);
      cuda::for_each_acc(acc, ss_m0, ss_n0, [&](int r, int cc, float& x) { s32[r * kPs + cc] = x; });
    }
    __syncthreads();  // (4) every read of the state copy and of stage b is done
    write_s16();
  }

  // Final state of this V-slice.
  const int ht_row = p.ht ? (p.ht_index ? p.ht_index[seq] : seq) : -1;
  if (ht_row >= 0) {
    float* ht = p.ht + (static_cast<long long>(ht_row) * p.heads_v + head) * kD * kD;
    if constexpr (!kStateSmem) {
      cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int r, int c, float& x) { ht[r * kD + v0 + c] = x; });
    } else {
      for (int i = tid; i < kD * kBV; i += kThreads) {
        const int r = i / kBV, c = i % kBV;
        ht[r * kD + v0 + c] = s32[r * kPs + c];
      }
    }
  }

  // The last sequence's CTAs zero the padding rows after cu_seqlens[N].
  if (seq == p.seq.num_sequences - 1) {
    const long long pad0 = p.seq.cu_seqlens[p.seq.num_sequences];
    constexpr int kSv = kBV / 8;
    T* obase = static_cast<T*>(p.o.data);
    for (long long i = tid; i < (p.seq.total_tokens - pad0) * kSv; i += kThreads) {
      const long long f = pad0 + i / kSv;
      const int s = static_cast<int>(i % kSv);
      *reinterpret_cast<uint4*>(obase + cuda::token_offset(p.o, f, head, tpr) + v0 + s * 8) = make_uint4(0, 0, 0, 0);
    }
  }
}

}  // namespace qla::gdn
