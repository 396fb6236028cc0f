// Unfused pipeline, kernel 1 of 5: chunk-local cumsum of g and fp32 copies of β, chunk-major,
// plus zeroing of the padding rows of o after cu_seqlens[N].
//   g_cum[c, h, s] = Σ_{r ≤ s} g[c·64 + r, h] (restarted at every chunk), padded rows = g_cum of
//   the last token beta_f[c, h, s] = β[c·64 + s, h], 0 on padded rows
// Grid (max(NC, 1), ceil(H/2)), 128 threads: threads [0, 64) scan head 2y, [64, 128) head 2y+1, one
// token per thread.
#pragma once

#include "gdn/unfused_common.cuh"

namespace qla::gdn {

template <class TG, class TB>
__global__ void __launch_bounds__(128) unfused_cumsum_kernel(UnfusedParams p) {
  using namespace unfused;
  __shared__ float warp_total[kWarps];
  const int c = blockIdx.x;
  const int head = 2 * blockIdx.y + threadIdx.x / kChunk;
  const int s = threadIdx.x % kChunk;
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  // The host launches one CTA even when there are no chunks, so that the padding of o is still
  // zeroed.
  const bool has_chunk = c < p.seq.num_chunks;
  const ChunkRange r = has_chunk ? chunk_range(p.seq, c) : ChunkRange{0, 0, 0};
  const bool active = has_chunk && head < p.h_v;
  const bool valid = active && s < r.rows;

  float g = 0.f;
  float beta = 0.f;
  if (valid) {
    const long long f = r.first_token + s;
    g = to_float(
        static_cast<const TG*>(p.g.data)[token_offset(p.g, f, head, p.seq.tokens_per_row)]);
    beta = to_float(
        static_cast<const TB*>(p.beta.data)[token_offset(p.beta, f, head, p.seq.tokens_per_row)]);
  }
  // Inclusive scan over 64 tokens: per warp, then the first warp's total added to the second.
  // Padded rows carry g = 0, so they end up with the cumsum of the last valid token (FLA's fill
  // rule).
  float x = g;
#pragma unroll
  for (int d = 1; d < 32; d *= 2) {
    const float y = __shfl_up_sync(0xffffffffu, x, d);
    if (lane >= d) x += y;
  }
  if (lane == 31) warp_total[warp] = x;
  __syncthreads();
  if (warp % 2 == 1) x += warp_total[warp - 1];
  if (active) {
    const long long idx = (static_cast<long long>(c) * p.h_v + head) * kChunk + s;
    p.g_cum[idx] = x;
    p.beta_f[idx] = beta;
  }

  // Padding rows of o (flat tokens in [cu_seqlens[N], B·T)) get zeros; every CTA takes a
  // grid-stride share.
  const long long pad_begin = p.seq.cu_seqlens[p.seq.num_sequences];
  const long long pad_rows = (p.seq.total_tokens - pad_begin) * p.h_v;
  if (pad_rows > 0) {
    constexpr int kVecs = kHeadDim * 2 / 16;  // 16-byte vectors per 16-bit row
    const long long cta = static_cast<long long>(blockIdx.y) * gridDim.x + blockIdx.x;
    const long long ctas = static_cast<long long>(gridDim.x) * gridDim.y;
    const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
    for (long long i = cta * blockDim.x + threadIdx.x; i < pad_rows * kVecs;
         i += ctas * blockDim.x) {
      const long long row = i / kVecs;
      const long long f = pad_begin + row / p.h_v;
      const int hh = static_cast<int>(row % p.h_v);
      char* dst = static_cast<char*>(p.o.data) + 2 * token_offset(p.o, f, hh, p.seq.tokens_per_row);
      reinterpret_cast<uint4*>(dst)[i % kVecs] = zero;
    }
  }
}

}  // namespace qla::gdn
