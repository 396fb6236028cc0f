// state_pass: the state-only pass (FlashQLA's prepare_h), used for the CP warm-up.
// One CTA per (sequence or CP piece, value head) with the full V = 128 runs the last n chunks of
// its sequence (n = num_warmup[seq * H + h], all chunks when null) and writes the final state;
// heads that run every chunk (CP fallback) also accumulate the exact transition M = M_n ⋯ M_1, M_c
// = e^{g_L}(I + Xᵀ K). Per chunk:
//   X = −diag(β) A_rᵀ K                 (C,C)ᵀ(C,128)    S-independent, off the serial chain
//   Y = e^{g_L} (K S) − e^{g_L − g} ⊙ V  (C,128)(128,128) (e^{g_L − g} = 0 on padded rows)
//   S ← e^{g_L} S + Xᵀ Y                (128,C)(C,128)
//   with M: Z = K M (into the dead v tile);  M ← e^{g_L} (M + Xᵀ Z)
// GEMMs: mma.sync m16n8k16 with fp16 operands (bf16 inputs converted in shared memory, see
// fused_fwd.cuh), fp32 accumulators; S in registers, M fp32 in shared memory. Compiles under nvcc
// and NVRTC.
#pragma once

#include "common/mma.cuh"
#include "qla/gdn/fused_params.hpp"

namespace qla::gdn {

/// kChunk: C (32 or 64); kStages: input ring depth (1..2; 1 when kWithM); kWarps: 4 or 8; kWithM: M
/// support compiled in; T: qkv dtype; BetaT: float or T.
template <int kChunk, int kStages, int kWarps, bool kWithM, class T, class BetaT>
__global__ void __launch_bounds__(kWarps * 32) state_pass_kernel(StatePassParams p) {
  static_assert(kChunk == 32 || kChunk == 64, "chunk size");
  static_assert(kStages >= 1 && kStages <= 2, "stages");
  using Tc = __half;
  constexpr bool kConvert = !cuda::IsSame<T, __half>::value;
  constexpr int kS = state_pass_stages(kStages, kWithM);
  constexpr int kD = kFusedHeadDim;
  constexpr int kThreads = kWarps * 32;
  constexpr int kPq = fused_pitch16(kD);
  constexpr int kPa = fused_pitch16(kChunk);
  constexpr int kPm = fused_pitch32(kD);
  constexpr StatePassLayout kL = state_pass_layout(kChunk, kStages, kWithM);
  using TileX = cuda::WarpTiling<kChunk, kD, kWarps>;  // X, Y, Z
  using TileS = cuda::WarpTiling<kD, kD, kWarps>;      // S, M

  extern __shared__ __align__(128) unsigned char smem[];
  Tc* s16 = reinterpret_cast<Tc*>(smem + kL.s16);        // (128, 128) fp16 state copy
  Tc* xs = reinterpret_cast<Tc*>(smem + kL.x);           // (C, 128) X
  Tc* ys = reinterpret_cast<Tc*>(smem + kL.y);           // (C, 128) Y
  float* gs = reinterpret_cast<float*>(smem + kL.g);     // (C)
  float* bs = reinterpret_cast<float*>(smem + kL.beta);  // (C)
  float* m32 = reinterpret_cast<float*>(smem + kL.m32);  // (128, 128) fp32 M when kWithM
  Tc* m16 = reinterpret_cast<Tc*>(smem + kL.m16);        // (128, 128) fp16 copy of M

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
  const bool with_m = kWithM && p.m != nullptr && full;
  const int c_begin = nchunks - n;
  const int sx_m0 = TileX::m0(warp), sx_n0 = TileX::n0(warp);
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
    constexpr int kSq = kD / 8, kSa = kChunk / 8;
    for (int i = tid; i < kChunk * kSq; i += kThreads) {
      const int r = i / kSq, s = i % kSq;
      f(reinterpret_cast<Tc*>(st + kL.k) + r * kPq + s * 8, k0 + r * p.k.stride_token + s * 8, p.k,
        r < rows);
      f(reinterpret_cast<Tc*>(st + kL.v) + r * kPq + s * 8, v0 + r * p.v.stride_token + s * 8, p.v,
        r < rows);
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

  // Initial state: h0 when the whole sequence runs, zero for a warm-up window.
  float sreg[TileS::kMT][TileS::kNT][4];
  {
    const float* h0 = (p.h0 && full)
                          ? p.h0 + (static_cast<long long>(seq) * p.heads_v + head) * kD * kD
                          : nullptr;
    cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int r, int c, float& x) {
      x = h0 ? h0[r * kD + c] : 0.f;
      s16[r * kPq + c] = __float2half_rn(x);
    });
  }
  if constexpr (kWithM) {
    if (with_m) {
      for (int i = tid; i < kD * kD; i += kThreads) {
        const int r = i / kD, c = i % kD;
        m32[r * kPm + c] = r == c ? 1.f : 0.f;
        m16[r * kPq + c] = __float2half_rn(r == c ? 1.f : 0.f);
      }
    }
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
    Tc* vs = reinterpret_cast<Tc*>(st + kL.v);  // (C, 128)
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
      float acc[TileX::kMT][TileX::kNT][4];
      cuda::zero_acc(acc);
      cuda::warp_mma<Tc, false, true, TileX::kMT, TileX::kNT, kD>(acc, ks, kPq, s16, kPq, sx_m0,
                                                                  sx_n0);
      cuda::for_each_acc(acc, sx_m0, sx_n0, [&](int r, int cc, float& x) {
        const float tail = r < rows ? __expf(g_last - gs[r]) : 0.f;
        ys[r * kPq + cc] = __float2half_rn(decay * x - tail * __half2float(vs[r * kPq + cc]));
      });
    }
    __syncthreads();  // (2)

    // Phase 2: S ← e^{g_L} S + Xᵀ Y (and its fp16 copy: K·S of this chunk is done); Z = K M into
    // the v tile.
    cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int, int, float& x) { x *= decay; });
    cuda::warp_mma<Tc, true, true, TileS::kMT, TileS::kNT, kChunk>(sreg, xs, kPq, ys, kPq, ss_m0,
                                                                   ss_n0);
    cuda::for_each_acc(sreg, ss_m0, ss_n0,
                       [&](int r, int cc, float& x) { s16[r * kPq + cc] = __float2half_rn(x); });
    if constexpr (kWithM) {
      if (with_m) {
        {
          float acc[TileX::kMT][TileX::kNT][4];
          cuda::zero_acc(acc);
          cuda::warp_mma<Tc, false, true, TileX::kMT, TileX::kNT, kD>(acc, ks, kPq, m16, kPq, sx_m0,
                                                                      sx_n0);
          cuda::for_each_acc(acc, sx_m0, sx_n0, [&](int r, int cc, float& x) {
            vs[r * kPq + cc] = __float2half_rn(x);
          });
        }
        __syncthreads();  // (3) Z complete, every read of m16 done
        float acc[TileS::kMT][TileS::kNT][4];
        cuda::for_each_acc(acc, ss_m0, ss_n0,
                           [&](int r, int cc, float& x) { x = m32[r * kPm + cc]; });
        cuda::warp_mma<Tc, true, true, TileS::kMT, TileS::kNT, kChunk>(acc, xs, kPq, vs, kPq, ss_m0,
                                                                       ss_n0);
        cuda::for_each_acc(acc, ss_m0, ss_n0, [&](int r, int cc, float& x) {
          x *= decay;
          m32[r * kPm + cc] = x;
          m16[r * kPq + cc] = __float2half_rn(x);
        });
      }
    }
    __syncthreads();  // (4) stage b, X, Y free for the next chunk
  }

  float* ht = p.ht + (static_cast<long long>(seq) * p.heads_v + head) * kD * kD;
  cuda::for_each_acc(sreg, ss_m0, ss_n0, [&](int r, int c, float& x) { ht[r * kD + c] = x; });
  if (p.m) {
    float* m = p.m + (static_cast<long long>(seq) * p.heads_v + head) * kD * kD;
    for (int i = tid; i < kD * kD; i += kThreads) {
      const int r = i / kD, c = i % kD;
      float x = 0.f;
      if constexpr (kWithM) x = with_m ? m32[r * kPm + c] : 0.f;
      m[i] = x;
    }
  }
}

}  // namespace qla::gdn
