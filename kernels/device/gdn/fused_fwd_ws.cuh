// fused_fwd_ws: the warp-specialised fused forward (FlashQLA's producer/consumer split, on
// mma.sync). Same work item and math as fused_fwd.cuh (FusedFwdStep), with the roles split by
// warpgroup:
//  * warpgroup 0, the producer, drops to kProducerRegs registers (setmaxnreg.dec) and fills a ring
//  of kStages
//    input stages: q, k, v-slice and A_r by cp.async, bf16 → fp16 in place, then g and β; it
//    publishes a stage on its `full` mbarrier and waits for the stage's `empty` barrier before
//    refilling it;
//  * the kWarps consumer warps take the freed registers (setmaxnreg.inc, fused_ws_consumer_regs),
//  keep the fp32
//    state slice in registers and run the chunk chain, synchronising among themselves on named
//    barrier 1 only.
// So loading, converting and the gate reads of the next kStages chunks overlap the consumers' chunk
// step, and the consumers' register budget grows from 168 to 232–240 per thread with 8 warps (BV =
// 128 without spills). sm_90a for setmaxnreg (elsewhere the split compiles away and only the roles
// remain). nvcc and NVRTC.
#pragma once

#include "common/griddep.cuh"
#include "common/warp_roles.cuh"
#include "gdn/fused_fwd_step.cuh"

namespace qla::gdn {

/// kChunk: C (32 or 64); kBV: V-slice width (32, 64, 128); kStages: ring depth (1..3); kWarps:
/// consumer warps (4 or 8); kProducerRegs: the producer warpgroup's registers after the split
/// (24..56); T: qkv dtype; BetaT: float or T.
template <int kChunk, int kBV, int kStages, int kWarps, int kProducerRegs, class T, class BetaT>
__global__ void __launch_bounds__(fused_ws_threads(kWarps), 1)
    fused_fwd_ws_kernel(FusedFwdParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  static_assert(kStages >= 1 && kStages <= 3, "stages");
  using Step = FusedFwdStep<kChunk, kBV, kWarps, false, T>;
  using Tc = typename Step::Tc;
  constexpr bool kConvert = !cuda::IsSame<T, __half>::value;  // bf16 → fp16 in shared memory
  constexpr int kProducerThreads = 128;
  constexpr int kConsumerRegs = fused_ws_consumer_regs(kWarps, kProducerRegs);
  constexpr FusedFwdWsLayout kL = fused_fwd_ws_layout(kChunk, kBV, kStages);

  extern __shared__ __align__(128) unsigned char smem[];
  unsigned long long* full =
      reinterpret_cast<unsigned long long*>(smem + kL.bars);  // producer → consumers
  unsigned long long* empty = full + kStages;                 // consumers → producer
  const FusedFwdTile t = fused_fwd_tile<kChunk, kBV>(p);

  if (threadIdx.x == 0) {
#pragma unroll
    for (int b = 0; b < kStages; ++b) {
      cuda::mbar_init(&full[b], kProducerThreads);
      cuda::mbar_init(&empty[b], 1);
    }
  }
  __syncthreads();  // the last CTA-wide barrier: the roles part here

  if (threadIdx.x < kProducerThreads) {
    cuda::reg_dealloc<kProducerRegs>();
    const int tid = threadIdx.x;
    const long long tpr = p.seq.tokens_per_row;
    for (int c = 0; c < t.nchunks; ++c) {
      const int b = c % kStages;
      unsigned char* st = smem + b * kL.stage_bytes;
      cuda::mbar_wait(&empty[b], ((c / kStages) & 1) ^ 1);
      fused_fwd_stage_segments<kChunk, kBV>(
          p, t, st, kL, c, tid, kProducerThreads,
          [&](Tc* dst, const TokenTensor& x, long long f, int h, int col, bool valid) {
            const T* base = static_cast<const T*>(x.data);
            cuda::cp_async16(dst, valid ? base + cuda::token_offset(x, f, h, tpr) + col : base,
                             valid);
          });
      cuda::cp_async_commit();
      if (tid < kChunk) {  // the gate reads overlap the copies in flight
        float g, beta;
        fused_fwd_gate_row<kChunk, BetaT>(p, t, c, tid, g, beta);
        reinterpret_cast<float*>(st + kL.g)[tid] = g;
        reinterpret_cast<float*>(st + kL.beta)[tid] = beta;
      }
      cuda::cp_async_wait<0>();
      if constexpr (kConvert)
        fused_fwd_stage_segments<kChunk, kBV>(
            p, t, st, kL, c, tid, kProducerThreads,
            [&](Tc* dst, const TokenTensor&, long long, int, int, bool valid) {
              if (valid) cuda::bf16x8_to_f16x8(dst);
            });
      cuda::mbar_arrive(&full[b]);
    }
    return;
  }

  if constexpr (kConsumerRegs > 0) cuda::reg_alloc<kConsumerRegs>();
  const int tid = threadIdx.x - kProducerThreads;
  const int warp = tid / 32;
  auto sync = [] { cuda::named_barrier_sync<1, Step::kThreads>(); };
  const typename Step::Shared sh{reinterpret_cast<Tc*>(smem + kL.s16),
                                 reinterpret_cast<Tc*>(smem + kL.vd),
                                 reinterpret_cast<Tc*>(smem + kL.pg), nullptr};
  const typename Step::Out out{t.head, t.v0, p.seq.tokens_per_row};

  typename Step::StateRegs sreg;
  {
    const int row = p.h0 ? (p.h0_index ? p.h0_index[t.seq] : t.seq) : -1;
    Step::load_state(sreg, sh,
                     row >= 0 ? p.h0 + (static_cast<long long>(row) * p.heads_v + t.head) *
                                           kFusedHeadDim * kFusedHeadDim
                              : nullptr,
                     t.v0, tid, warp);
  }
  Step::write_s16(sreg, sh, tid, warp);

  for (int c = 0; c < t.nchunks; ++c) {
    const int b = c % kStages;
    unsigned char* st = smem + b * kL.stage_bytes;
    cuda::mbar_wait(&full[b], (c / kStages) & 1);
    sync();  // (1) the state copy written after the previous chunk is visible
    const long long left = t.len - static_cast<long long>(c) * kChunk;
    const typename Step::Chunk ch{reinterpret_cast<Tc*>(st + kL.q),
                                  reinterpret_cast<Tc*>(st + kL.k),
                                  reinterpret_cast<Tc*>(st + kL.v),
                                  reinterpret_cast<Tc*>(st + kL.a),
                                  reinterpret_cast<const float*>(st + kL.g),
                                  reinterpret_cast<const float*>(st + kL.beta),
                                  left < kChunk ? static_cast<int>(left) : kChunk,
                                  t.start + static_cast<long long>(c) * kChunk};
    Step::step(p, ch, sh, sreg, out, tid, warp, sync);
    sync();  // (4) every consumer read of stage b and of the state copy is done
    if (tid == 0) cuda::mbar_arrive(&empty[b]);
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
