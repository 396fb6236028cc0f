// CP warm-up counts per (piece, head) (forward direction): walk the piece's chunks from its end
// backwards summing chunk totals g_L (the chunk-local cumsum at each chunk's last valid token)
// until the sum drops below the threshold.
//
// One warp per (piece, head). The walk is a chain of dependent adds, but its loads are not: lane l
// fetches the total of the l-th chunk from the end of each batch of 32, so a batch costs one memory
// latency instead of 32. Lane l then sums the batch's totals up to its own step in walk order (the
// totals come by shuffle), and a ballot finds the first step below the threshold, so the count,
// the flag and the rounding are those of the one-thread walk, and the early exit is warp-uniform.
#pragma once

#include "common/convert.cuh"
#include "common/griddep.cuh"
#include "qla/gdn/cp_params.hpp"

namespace qla::gdn {

/// A CP warm-up window: the number of a piece's last chunks to run, and 1 where the walk never
/// reached the threshold (all chunks, and the exact transition M is needed).
struct CpWarmupWindow {
  int n;
  int fallback;
};

/// The warm-up window of one (piece, head), by one whole warp (every lane returns the same): the
/// piece's chunk totals g_L (g_cum at each chunk's last token), walked from its end, summed until
/// the sum drops below `threshold`. A piece that ends its raw sequence gets 0 chunks (its state
/// feeds no one). Shared by cp_warmup_counts_kernel and the wgmma state pass, which walks it per
/// CTA instead of launching that kernel.
__device__ __forceinline__ CpWarmupWindow cp_warmup_walk(const TokenTensor& g_cum, long long bos,
                                                         long long eos, bool is_last, int head,
                                                         int chunk, float threshold,
                                                         long long tokens_per_row, int lane) {
  const int chunks = static_cast<int>((eos - bos + chunk - 1) / chunk);
  CpWarmupWindow w{0, 0};
  if (is_last || chunks <= 0) return w;
  float sum = 0.f;  // the walk's running sum before the batch
  for (int batch = 0; batch < chunks; batch += 32) {
    const int c = chunks - 1 - (batch + lane);  // this lane's chunk, counted from the piece start
    float total = 0.f;
    if (c >= 0) {
      const long long last =
          (c == chunks - 1) ? eos - 1 : bos + static_cast<long long>(c + 1) * chunk - 1;
      total = *cuda::token_ptr<const float>(g_cum, last, head, tokens_per_row);
    }
    const int count = chunks - batch < 32 ? chunks - batch : 32;
    // Lane l's prefix: the running sum after the walk's step l of the batch, added in the walk's
    // order (so rounded as the one-thread walk rounds it). The shuffles do not wait on the sums:
    // the chain is 32 dependent adds, not 32 shuffle round trips.
    float prefix = sum;
#pragma unroll
    for (int e = 0; e < 32; ++e) {
      const float t = __shfl_sync(0xffffffffu, total, e);
      if (e <= lane) prefix += t;
    }
    const unsigned below = __ballot_sync(0xffffffffu, lane < count && prefix < threshold);
    if (below != 0u) {  // the first step whose sum drops below the threshold ends the walk
      w.n += __ffs(below);
      return w;
    }
    w.n += count;
    sum = __shfl_sync(0xffffffffu, prefix, count - 1);
  }
  w.fallback = 1;  // all chunks, and the threshold never reached
  return w;
}

template <int Unused = 0>
__global__ void __launch_bounds__(128) cp_warmup_counts_kernel(CpWarmupParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  const int piece = blockIdx.x;
  const int head = blockIdx.y * 4 + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (head >= p.heads) return;
  const CpWarmupWindow w =
      cp_warmup_walk(p.g_cum, p.piece_cu_seqlens[piece], p.piece_cu_seqlens[piece + 1],
                     p.piece_is_last[piece], head, p.chunk, p.threshold, p.tokens_per_row, lane);
  if (lane == 0) {
    p.num_warmup[piece * p.heads + head] = w.n;
    p.fallback[piece * p.heads + head] = w.fallback;
  }
}

}  // namespace qla::gdn
