// CP warm-up counts per (piece, head) (forward direction): walk the piece's chunks from its end
// backwards summing chunk totals g_L (the chunk-local cumsum at each chunk's last valid token)
// until the sum drops below the threshold.
//
// One warp per (piece, head). The walk is a chain of dependent adds, but its loads are not: lane l
// fetches the total of the l-th chunk from the end of each batch of 32, so a batch costs one memory
// latency instead of 32. Every lane then runs the same serial sum over the batch (the totals come
// by shuffle, in walk order), so the count, the flag and the rounding are those of the one-thread
// walk, and the early exit is warp-uniform.
#pragma once

#include "common/convert.cuh"
#include "common/griddep.cuh"
#include "qla/gdn/cp_params.hpp"

namespace qla::gdn {

template <int Unused = 0>
__global__ void __launch_bounds__(128) cp_warmup_counts_kernel(CpWarmupParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  const int piece = blockIdx.x;
  const int head = blockIdx.y * 4 + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (head >= p.heads) return;
  const long long bos = p.piece_cu_seqlens[piece];
  const long long eos = p.piece_cu_seqlens[piece + 1];
  const int chunks = static_cast<int>((eos - bos + p.chunk - 1) / p.chunk);
  int n = 0;
  int fallback = 0;
  if (!p.piece_is_last[piece] && chunks > 0) {
    float sum = 0.f;
    fallback = 1;
    for (int batch = 0; batch < chunks && fallback; batch += 32) {
      const int c = chunks - 1 - (batch + lane);  // this lane's chunk, counted from the piece start
      float total = 0.f;
      if (c >= 0) {
        const long long last =
            (c == chunks - 1) ? eos - 1 : bos + static_cast<long long>(c + 1) * p.chunk - 1;
        total = *cuda::token_ptr<const float>(p.g_cum, last, head, p.tokens_per_row);
      }
      const int count = chunks - batch < 32 ? chunks - batch : 32;
      for (int e = 0; e < count; ++e) {
        sum += __shfl_sync(0xffffffffu, total, e);
        ++n;
        if (sum < p.threshold) {
          fallback = 0;
          break;
        }
      }
    }
  }
  if (lane == 0) {
    p.num_warmup[piece * p.heads + head] = n;
    p.fallback[piece * p.heads + head] = fallback;
  }
}

}  // namespace qla::gdn
