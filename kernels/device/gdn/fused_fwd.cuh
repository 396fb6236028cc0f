// fused_fwd: the FlashQLA-style fused forward, every warp both loading and computing (the
// register split 0 of gdn.fused_fwd; fused_fwd_ws.cuh is the warp-specialised one). One CTA per
// (sequence or CP piece, value head, V-slice of BV columns) walks its chunks in order, keeping the
// fp32 state slice S (128, BV) in registers (or shared memory), and writes only o and the final
// state; the per-chunk compute is FusedFwdStep (fused_fwd_step.cuh). Inputs arrive through a
// cp.async ring of kStages stages (the load of chunk c + kStages − 1 overlaps chunk c); g and β are
// prefetched one chunk ahead in registers. Four __syncthreads per chunk. Compiles under nvcc and
// NVRTC.
#pragma once

#include "common/griddep.cuh"
#include "gdn/fused_fwd_step.cuh"

namespace qla::gdn {

/// kChunk: C (32 or 64); kBV: V-slice width (32, 64, 128); kStages: input ring depth (1..3);
/// kWarps: 4 or 8; kStateSmem: keep the fp32 state in shared memory instead of registers; T: qkv
/// dtype; BetaT: float or T.
template <int kChunk, int kBV, int kStages, int kWarps, bool kStateSmem, class T, class BetaT>
__global__ void __launch_bounds__(kWarps * 32) fused_fwd_kernel(FusedFwdParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  static_assert(kStages >= 1 && kStages <= 3, "stages");
  using Step = FusedFwdStep<kChunk, kBV, kWarps, kStateSmem, T>;
  using Tc = typename Step::Tc;
  constexpr bool kConvert = !cuda::IsSame<T, __half>::value;  // bf16 → fp16 in shared memory
  constexpr int kThreads = Step::kThreads;
  constexpr FusedFwdLayout kL = fused_fwd_layout(kChunk, kBV, kStages, kStateSmem);

  extern __shared__ __align__(128) unsigned char smem[];
  const typename Step::Shared sh{
      reinterpret_cast<Tc*>(smem + kL.s16), reinterpret_cast<Tc*>(smem + kL.vd),
      reinterpret_cast<Tc*>(smem + kL.pg), reinterpret_cast<float*>(smem + kL.s32)};
  float* gs =
      reinterpret_cast<float*>(smem + kL.g);  // (C) g_cum, padded rows = g of the last valid row
  float* bs = reinterpret_cast<float*>(smem + kL.beta);  // (C) β, 0 on padded rows

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const FusedFwdTile t = fused_fwd_tile<kChunk, kBV>(p);
  const typename Step::Out out{t.head, t.v0, p.seq.tokens_per_row};

  auto load_stage = [&](int c, int b) {
    fused_fwd_stage_segments<kChunk, kBV>(
        p, t, smem + b * kL.stage_bytes, kL, c, tid, kThreads,
        [&](Tc* dst, const TokenTensor& x, long long f, int h, int col, bool valid) {
          const T* base = static_cast<const T*>(x.data);
          cuda::cp_async16(
              dst, valid ? base + cuda::token_offset(x, f, h, out.tokens_per_row) + col : base,
              valid);
        });
  };
  auto convert_stage = [&](int c, int b) {
    fused_fwd_stage_segments<kChunk, kBV>(
        p, t, smem + b * kL.stage_bytes, kL, c, tid, kThreads,
        [&](Tc* dst, const TokenTensor&, long long, int, int, bool valid) {
          if (valid) cuda::bf16x8_to_f16x8(dst);
        });
  };

  // g and β of chunk c for row tid, prefetched into registers one chunk ahead.
  float g_next = 0.f, b_next = 0.f;
  auto fetch_gb = [&](int c) {
    if (tid < kChunk && c < t.nchunks)
      fused_fwd_gate_row<kChunk, BetaT>(p, t, c, tid, g_next, b_next);
  };

  [[maybe_unused]] typename Step::StateRegs sreg;
  {
    const int row = p.h0 ? (p.h0_index ? p.h0_index[t.seq] : t.seq) : -1;
    Step::load_state(sreg, sh,
                     row >= 0 ? p.h0 + (static_cast<long long>(row) * p.heads_v + t.head) *
                                           kFusedHeadDim * kFusedHeadDim
                              : nullptr,
                     t.v0, tid, warp);
  }
  Step::write_s16(sreg, sh, tid, warp);

  if constexpr (kStages > 1) {
#pragma unroll
    for (int i = 0; i < kStages - 1; ++i) {
      if (i < t.nchunks) load_stage(i, i);
      cuda::cp_async_commit();
    }
  }
  fetch_gb(0);

  for (int c = 0; c < t.nchunks; ++c) {
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
      if (cn < t.nchunks) load_stage(cn, cn % kStages);
      cuda::cp_async_commit();
    }
    fetch_gb(c + 1);

    unsigned char* st = smem + b * kL.stage_bytes;
    const long long left = t.len - static_cast<long long>(c) * kChunk;
    const typename Step::Chunk ch{reinterpret_cast<Tc*>(st + kL.q),
                                  reinterpret_cast<Tc*>(st + kL.k),
                                  reinterpret_cast<Tc*>(st + kL.v),
                                  reinterpret_cast<Tc*>(st + kL.a),
                                  gs,
                                  bs,
                                  left < kChunk ? static_cast<int>(left) : kChunk,
                                  t.start + static_cast<long long>(c) * kChunk};
    Step::step(p, ch, sh, sreg, out, tid, warp, [] { __syncthreads(); });
    __syncthreads();  // (4) every read of the state copy and of stage b is done
    Step::write_s16(sreg, sh, tid, warp);
  }

  const int ht_row = p.ht ? (p.ht_index ? p.ht_index[t.seq] : t.seq) : -1;
  if (ht_row >= 0)
    Step::store_state(sreg, sh,
                      p.ht + (static_cast<long long>(ht_row) * p.heads_v + t.head) * kFusedHeadDim *
                                 kFusedHeadDim,
                      t.v0, tid, warp);
  Step::zero_padding(p, t.seq, out, tid);
}

}  // namespace qla::gdn
