// chunk_local_cumsum: per chunk of C tokens of each sequence, the inclusive prefix sum of g
// (Reverse: the inclusive suffix sum, for the backward's dg), in fp32.
//
// What is written: g_out[t] for every token t inside a sequence (the sum restarts at each sequence
// start and every C tokens after it), and 0 for every token after cu_seqlens[N] (varlen padding),
// written by the blocks past num_chunks. Nothing else: the rows that pad a sequence's last chunk
// belong to the next sequence (or do not exist), so consumers load padded rows as g_out[last valid
// token of the chunk] themselves (FlashQLA's padding rule); with that, g_out at the chunk's last
// valid token is the chunk total g_L.
//
// CTA = (chunk, 32-head block), 4 warps: the (C, 32) tile is loaded coalesced (32 consecutive heads
// of a token) into padded smem, each warp scans heads: lane l owns C/32 consecutive tokens, a
// sequential scan inside the lane and a shuffle scan across lanes.
#pragma once

#include "common/convert.cuh"
#include "common/griddep.cuh"
#include "common/warp_scan.cuh"
#include "qla/gdn/cumsum_params.hpp"

namespace qla::gdn {

template <int C, bool Reverse, typename TG>
__global__ void __launch_bounds__(128) chunk_local_cumsum_kernel(ChunkCumsumParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  static_assert(C == 32 || C == 64 || C == 128, "chunk size 32, 64 or 128");
  constexpr int kPerLane = C / 32;
  __shared__ float tile[C][33];  // (C, 32 heads) fp32, +1 column against bank conflicts

  const int head0 = blockIdx.y * 32;
  const long long T = p.seq.tokens_per_row;
  const int tid = threadIdx.x;

  const int seq = p.seq.chunk_index[2 * blockIdx.x];
  const int chunk = p.seq.chunk_index[2 * blockIdx.x + 1];
  if (seq < 0) {  // padding entry j = chunk: zero the rows cu_seqlens[N] + [j·C, (j+1)·C)
    const long long pad0 =
        p.seq.cu_seqlens[p.seq.num_sequences] + static_cast<long long>(chunk) * C;
    for (int i = tid; i < C * 32; i += 128) {
      const long long tok = pad0 + i / 32;
      const int head = head0 + i % 32;
      if (tok < p.seq.total_tokens && head < p.heads)
        *cuda::token_ptr<float>(p.g_out, tok, head, T) = 0.f;
    }
    return;
  }
  const long long bos = p.seq.cu_seqlens[seq] + static_cast<long long>(chunk) * C;
  const long long eos = p.seq.cu_seqlens[seq + 1];
  const int len = static_cast<int>(eos - bos < C ? eos - bos : C);
  // A chunk lies in one batch row: token t of it is t · stride_token past the first (one division
  // per CTA, not per element).
  const TG* in = cuda::token_ptr<const TG>(p.g_in, bos, head0, T);
  float* out = cuda::token_ptr<float>(p.g_out, bos, head0, T);

  for (int i = tid; i < C * 32; i += 128) {
    const int t = i / 32, h = i % 32;
    tile[t][h] = (t < len && head0 + h < p.heads)
                     ? cuda::to_float(in[t * p.g_in.stride_token + h * p.g_in.stride_head])
                     : 0.f;
  }
  __syncthreads();

  const int lane = tid % 32;
  for (int h = tid / 32; h < 32; h += 4) {
    // Position j of the scan order: token j (forward) or token C-1-j (reverse); zeros beyond len
    // are harmless.
    float vals[kPerLane];
    cuda::warp_inclusive_scan(vals, [&](int j) { return tile[Reverse ? C - 1 - j : j][h]; });
#pragma unroll
    for (int e = 0; e < kPerLane; ++e) {
      const int j = lane * kPerLane + e;
      tile[Reverse ? C - 1 - j : j][h] = vals[e];
    }
  }
  __syncthreads();

  for (int i = tid; i < C * 32; i += 128) {
    const int t = i / 32, h = i % 32;
    if (t < len && head0 + h < p.heads)
      out[t * p.g_out.stride_token + h * p.g_out.stride_head] = tile[t][h];
  }
}

}  // namespace qla::gdn
