// state_pass: the state-only pass (FlashQLA's prepare_h), used for the CP warm-up.
// One CTA per (sequence or CP piece, value head, column slice) runs the last n chunks of its
// sequence (n = num_warmup[seq * H + h], all chunks when null) and writes BV columns of the final
// state. Heads that run every chunk (CP fallback) also need the exact transition M = M_n ⋯ M_1,
// M_c = e^{g_L}(I + Xᵀ K): M evolves under the same map as S with v = 0 and the identity as its
// initial state, so it is computed as 128 more state columns, [S | M] (128 x 256), by CTAs of
// their own (grid y) that run in parallel with S's instead of after it. Per chunk:
//   X = −diag(β) A_rᵀ K                 (C,C)ᵀ(C,128)    S-independent, off the serial chain
//   Y = e^{g_L} (K S) − e^{g_L − g} ⊙ V  (C,128)(128,BV) (e^{g_L − g} = 0 on padded rows; V = 0 in
//   M) S ← e^{g_L} S + Xᵀ Y                (128,C)(C,BV)
// GEMMs: mma.sync m16n8k16 with fp16 operands (bf16 inputs converted in shared memory, see
// fused_fwd.cuh), fp32 accumulators; the slice in registers. Compiles under nvcc and NVRTC.
#pragma once

#include "common/griddep.cuh"
#include "common/mma.cuh"
#include "qla/gdn/fused_params.hpp"

namespace qla::gdn {

/// kChunk: C (32 or 64); kStages: input ring depth (1..2); kWarps: 4 or 8; kBV: state columns per
/// CTA (64 or 128); T: qkv dtype; BetaT: float or T.
template <int kChunk, int kStages, int kWarps, int kBV, class T, class BetaT>
__global__ void __launch_bounds__(kWarps * 32) state_pass_kernel(StatePassParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  static_assert(kChunk == 32 || kChunk == 64, "chunk size");
  static_assert(kStages >= 1 && kStages <= 2, "stages");
  static_assert(kBV == 64 || kBV == 128, "state columns per CTA");
  using Tc = __half;
  constexpr bool kConvert = !cuda::IsSame<T, __half>::value;
  constexpr int kS = kStages;
  constexpr int kD = kFusedHeadDim;
  constexpr int kThreads = kWarps * 32;
  constexpr int kPq = fused_pitch16(kD);
  constexpr int kPv = fused_pitch16(kBV);
  constexpr int kPa = fused_pitch16(kChunk);
  constexpr StatePassLayout kL = state_pass_layout(kChunk, kStages, kBV);
  using TileX = cuda::WarpTiling<kChunk, kD, kWarps>;   // X
  using TileY = cuda::WarpTiling<kChunk, kBV, kWarps>;  // Y
  using TileS = cuda::WarpTiling<kD, kBV, kWarps>;      // the state slice

  extern __shared__ __align__(128) unsigned char smem[];
  Tc* s16 = reinterpret_cast<Tc*>(smem + kL.s16);        // (128, BV) fp16 copy of the slice
  Tc* xs = reinterpret_cast<Tc*>(smem + kL.x);           // (C, 128) X
  Tc* ys = reinterpret_cast<Tc*>(smem + kL.y);           // (C, BV) Y
  float* gs = reinterpret_cast<float*>(smem + kL.g);     // (C)
  float* bs = reinterpret_cast<float*>(smem + kL.beta);  // (C)

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int head = blockIdx.x % p.heads_v;
  const int seq = blockIdx.x / p.heads_v;
  const int qk_head = head / p.group;
  const long long tpr = p.seq.tokens_per_row;
  const long long start = p.seq.cu_seqlens[seq];
  const long long len = p.seq.cu_seqlens[seq + 1] - start;
  const int nchunks = static_cast<int>((len + kChunk - 1) / kChunk);
  int n = p.num_warmup ? p.num_warmup[seq * p.heads_v + head] : nchunks;
  n = n < 0 ? 0 : (n > nchunks ? nchunks : n);
  const bool full = n == nchunks;
  // Columns [col0, col0 + BV) of [S | M]: a slice of S, or of M (v = 0, from the identity).
  const int col0 = static_cast<int>(blockIdx.y) * kBV;
  const bool m_slice = col0 >= kD;
  const int c0 = m_slice ? col0 - kD : col0;  // first column within S or M
  const long long out_base = (static_cast<long long>(seq) * p.heads_v + head) * kD * kD;
  if (m_slice && !full) {  // no transition needed: M's slice is zero
    for (int i = tid; i < kD * kBV; i += kThreads)
      p.m[out_base + (i / kBV) * kD + c0 + i % kBV] = 0.f;
    return;
  }
  const int c_begin = nchunks - n;
  const int sx_m0 = TileX::m0(warp), sx_n0 = TileX::n0(warp);
  const int sy_m0 = TileY::m0(warp), sy_n0 = TileY::n0(warp);
  const int ss_m0 = TileS::m0(warp), ss_n0 = TileS::n0(warp);

  auto rows_of = [&](int c) {
    const long long r = len - static_cast<long long>(c) * kChunk;
    return r < kChunk ? static_cast<int>(r) : kChunk;
  };
  // Calls f(dst, source element offset, tensor, valid) for every 16-byte segment of chunk c's k, v
  // and A_r rows this thread owns. A chunk lies in one batch row, so its rows are stride_token
  // apart from the first one's offset (one division per tensor and chunk, not per segment).
  auto for_stage_segments = [&](int c, int b, auto&& f) {
    unsigned char* st = smem + b * kL.stage_bytes;
    const long long cs = start + static_cast<long long>(c) * kChunk;
    const long long k0 = cuda::token_offset(p.k, cs, qk_head, tpr);
    const long long v0 = cuda::token_offset(p.v, cs, head, tpr);
    const long long a0 = cuda::token_offset(p.a, cs, head, tpr);
    const int rows = rows_of(c);
    constexpr int kSq = kD / 8, kSv = kBV / 8, kSa = kChunk / 8;
    for (int i = tid; i < kChunk * kSq; i += kThreads) {
      const int r = i / kSq, s = i % kSq;
      f(reinterpret_cast<Tc*>(st + kL.k) + r * kPq + s * 8, k0 + r * p.k.stride_token + s * 8, p.k,
        r < rows);
    }
    if (!m_slice) {  // M's v is zero: never loaded, never read
      for (int i = tid; i < kChunk * kSv; i += kThreads) {
        const int r = i / kSv, s = i % kSv;
        f(reinterpret_cast<Tc*>(st + kL.v) + r * kPv + s * 8,
          v0 + r * p.v.stride_token + c0 + s * 8, p.v, r < rows);
      }
    }
    for (int i = tid; i < kChunk * kSa; i += kThreads) {
      const int r = i / kSa, s = i % kSa;
      f(reinterpret_cast<Tc*>(st + kL.a) + r * kPa + s * 8, a0 + r * p.a.stride_token + s * 8, p.a,
        r < rows);
    }
  };
  auto load_stage = [&](int c, int b) {
    for_stage_segments(c, b, [&](Tc* dst, long long offset, const TokenTensor& x, bool valid) {
      const T* base = static_cast<const T*>(x.data);
      cuda::cp_async16(dst, base + (valid ? offset : 0), valid);
    });
  };
  auto convert_stage = [&](int c, int b) {
    for_stage_segments(c, b, [&](Tc* dst, long long, const TokenTensor&, bool valid) {
      if (valid) cuda::bf16x8_to_f16x8(dst);
    });
  };
  float g_next = 0.f, b_next = 0.f;
  auto fetch_gb = [&](int c) {
    if (tid < kChunk && c < nchunks) {
      const long long cs = start + static_cast<long long>(c) * kChunk;
      const int rows = rows_of(c);
      const int r = tid < rows ? tid : rows - 1;
      g_next = static_cast<const float*>(
          p.g.data)[cuda::token_offset(p.g, cs, head, tpr) + r * p.g.stride_token];
      b_next = tid < rows ? cuda::to_float(static_cast<const BetaT*>(
                                p.beta.data)[cuda::token_offset(p.beta, cs, head, tpr) +
                                             r * p.beta.stride_token])
                          : 0.f;
    }
  };

  // Initial state: S from h0 when the whole sequence runs, zero for a warm-up window; M from the
  // identity.
  float sreg[TileS::kMT][TileS::kNT][4];
  {
    const float* h0 = (p.h0 && full && !m_slice) ? p.h0 + out_base : nullptr;
    cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int r, int c, float& x) {
      x = m_slice ? (r == c0 + c ? 1.f : 0.f) : (h0 ? h0[r * kD + c0 + c] : 0.f);
      s16[r * kPv + c] = __float2half_rn(x);
    });
  }

  if constexpr (kS > 1) {
    if (c_begin < nchunks) load_stage(c_begin, 0);
    cuda::cp_async_commit();
  }
  fetch_gb(c_begin);

  for (int c = c_begin; c < nchunks; ++c) {
    const int b = (c - c_begin) % kS;
    if constexpr (kS == 1) {
      load_stage(c, 0);
      cuda::cp_async_commit();
      cuda::cp_async_wait<0>();
    } else {
      cuda::cp_async_wait<0>();
    }
    if constexpr (kConvert) convert_stage(c, b);
    if (tid < kChunk) {
      gs[tid] = g_next;
      bs[tid] = b_next;
    }
    __syncthreads();  // (1)
    if constexpr (kS > 1) {
      if (c + 1 < nchunks) load_stage(c + 1, (c + 1 - c_begin) % kS);
      cuda::cp_async_commit();
    }
    fetch_gb(c + 1);

    unsigned char* st = smem + b * kL.stage_bytes;
    Tc* ks = reinterpret_cast<Tc*>(st + kL.k);  // (C, 128)
    Tc* vs = reinterpret_cast<Tc*>(st + kL.v);  // (C, BV)
    Tc* as = reinterpret_cast<Tc*>(st + kL.a);  // (C, C)
    const int rows = rows_of(c);
    const float g_last = gs[kChunk - 1];
    const float decay = __expf(g_last);

    // Phase 1: X = −diag(β) A_rᵀ K;  Y = e^{g_L}(K S) − e^{g_L − g} ⊙ V.
    {
      float acc[TileX::kMT][TileX::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, true, true, TileX::kMT, TileX::kNT, kChunk>(acc, as, kPa, ks, kPq, sx_m0,
                                                                     sx_n0);
      cuda::for_each_acc(acc, sx_m0, sx_n0, [&](int r, int cc, float& x) {
        xs[r * kPq + cc] = __float2half_rn(-bs[r] * x);
      });
    }
    {
      float acc[TileY::kMT][TileY::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, false, true, TileY::kMT, TileY::kNT, kD>(acc, ks, kPq, s16, kPv, sy_m0,
                                                                  sy_n0);
      cuda::for_each_acc(acc, sy_m0, sy_n0, [&](int r, int cc, float& x) {
        float y = decay * x;
        if (!m_slice && r < rows) y -= __expf(g_last - gs[r]) * __half2float(vs[r * kPv + cc]);
        ys[r * kPv + cc] = __float2half_rn(y);
      });
    }
    __syncthreads();  // (2)

    // Phase 2: S ← e^{g_L} S + Xᵀ Y, and its fp16 copy (K·S of this chunk is done).
    cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int, int, float& x) { x *= decay; });
    cuda::warp_mma<Tc, true, true, TileS::kMT, TileS::kNT, kChunk>(sreg, xs, kPq, ys, kPv, ss_m0,
                                                                   ss_n0);
    cuda::for_each_acc(sreg, ss_m0, ss_n0,
                       [&](int r, int cc, float& x) { s16[r * kPv + cc] = __float2half_rn(x); });
    __syncthreads();  // (4) stage b, X, Y free for the next chunk
  }

  float* out = (m_slice ? p.m : p.ht) + out_base + c0;
  cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int r, int c, float& x) { out[r * kD + c] = x; });
}

}  // namespace qla::gdn
