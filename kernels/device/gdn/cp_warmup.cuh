// CP warm-up counts per (piece, head) (forward direction): walk the piece's chunks from its end
// backwards summing chunk totals g_L (the chunk-local cumsum at each chunk's last valid token)
// until the sum drops below the threshold.
#pragma once

#include "common/convert.cuh"
#include "common/griddep.cuh"
#include "qla/gdn/cp_params.hpp"

namespace qla::gdn {

template <int Unused = 0>
__global__ void cp_warmup_counts_kernel(CpWarmupParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  const int piece = blockIdx.x;
  const int head = threadIdx.x;
  if (head >= p.heads) return;
  const long long bos = p.piece_cu_seqlens[piece];
  const long long eos = p.piece_cu_seqlens[piece + 1];
  const int chunks = static_cast<int>((eos - bos + p.chunk - 1) / p.chunk);
  int n = 0;
  int fallback = 0;
  if (!p.piece_is_last[piece] && chunks > 0) {
    float sum = 0.f;
    fallback = 1;
    for (int c = chunks - 1; c >= 0; --c) {
      const long long last =
          (c == chunks - 1) ? eos - 1 : bos + static_cast<long long>(c + 1) * p.chunk - 1;
      sum += *cuda::token_ptr<const float>(p.g_cum, last, head, p.tokens_per_row);
      ++n;
      if (sum < p.threshold) {
        fallback = 0;
        break;
      }
    }
  }
  p.num_warmup[piece * p.heads + head] = n;
  p.fallback[piece * p.heads + head] = fallback;
}

}  // namespace qla::gdn
