// Baseline (a): the GDN recurrence token by token, fp32 state in registers.
// CTA = (V-slice of BV columns, value head, sequence); BV*KSplit threads: thread (col, part) holds
// the state rows r = i*KSplit + part (i < 128/KSplit) of column col, so a column's KSplit owners
// are adjacent lanes and the two dot products per token reduce with shuffles. Also the GPU
// reference for long sequences.
#pragma once

#include "common/convert.cuh"
#include "qla/gdn/naive_fwd_params.hpp"

namespace qla::gdn {

template <int BV, int KSplit, typename T, typename TG, typename TB>
__global__ void __launch_bounds__(BV* KSplit) naive_fwd_kernel(NaiveFwdParams p) {
  constexpr int kK = 128;
  constexpr int kV = 128;
  constexpr int kRows = kK / KSplit;  // state rows per thread
  static_assert(kV % BV == 0, "BV must divide V = 128");
  static_assert(KSplit >= 1 && KSplit <= 32 && (32 % KSplit) == 0, "KSplit must divide a warp");
  static_assert(BV * KSplit >= 32 && BV * KSplit <= 1024, "one to 32 warps");

  __shared__ float k_s[kK];  // (K) fp32 of the current token's key
  __shared__ float q_s[kK];  // (K) fp32 query
  __shared__ float v_s[BV];  // (BV) value slice
  __shared__ float gb_s[2];  // e^{g_t}, beta_t

  const int slice = blockIdx.x;
  const int head = blockIdx.y;
  const int seq = blockIdx.z;
  const int qk_head = head / (p.h_v / p.h_qk);
  const int tid = threadIdx.x;
  const int part = tid % KSplit;
  const int col = slice * BV + tid / KSplit;
  const long long bos = p.seq.cu_seqlens[seq];
  const long long eos = p.seq.cu_seqlens[seq + 1];
  const long long rows_per_batch = p.seq.tokens_per_row;

  float state[kRows];  // S[i*KSplit + part][col]
  const long long state_base = (static_cast<long long>(seq) * p.h_v + head) * kK * kV;
  const float* h0 = static_cast<const float*>(p.h0.data);
#pragma unroll
  for (int i = 0; i < kRows; ++i)
    state[i] = h0 ? h0[state_base + (i * KSplit + part) * kV + col] : 0.f;

  for (long long tok = bos; tok < eos; ++tok) {
    __syncthreads();  // the previous token's smem reads are done
    for (int i = tid; i < kK; i += BV * KSplit) {
      k_s[i] = cuda::to_float(cuda::token_ptr<const T>(p.k, tok, qk_head, rows_per_batch)[i]);
      q_s[i] = cuda::to_float(cuda::token_ptr<const T>(p.q, tok, qk_head, rows_per_batch)[i]);
    }
    for (int i = tid; i < BV; i += BV * KSplit) {
      v_s[i] =
          cuda::to_float(cuda::token_ptr<const T>(p.v, tok, head, rows_per_batch)[slice * BV + i]);
    }
    if (tid == 0) {
      gb_s[0] = expf(cuda::to_float(*cuda::token_ptr<const TG>(p.g, tok, head, rows_per_batch)));
      gb_s[1] = cuda::to_float(*cuda::token_ptr<const TB>(p.beta, tok, head, rows_per_batch));
    }
    __syncthreads();
    const float decay = gb_s[0];
    // u = beta (v - decay * S^T k), reduced over the KSplit owners of the column
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < kRows; ++i) dot += state[i] * k_s[i * KSplit + part];
#pragma unroll
    for (int off = KSplit / 2; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    const float u = gb_s[1] * (v_s[tid / KSplit] - decay * dot);
    // S = decay S + k u^T ;  o = scale S^T q
    float out = 0.f;
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      state[i] = decay * state[i] + k_s[i * KSplit + part] * u;
      out += state[i] * q_s[i * KSplit + part];
    }
#pragma unroll
    for (int off = KSplit / 2; off > 0; off /= 2) out += __shfl_xor_sync(0xffffffffu, out, off);
    if (part == 0)
      cuda::token_ptr<T>(p.o, tok, head, rows_per_batch)[col] = cuda::from_float<T>(p.scale * out);
  }

  float* ht = static_cast<float*>(p.ht.data);
  if (ht) {
#pragma unroll
    for (int i = 0; i < kRows; ++i) ht[state_base + (i * KSplit + part) * kV + col] = state[i];
  }
  // Rows after cu_seqlens[N] (varlen padding) get zeros, written by the last sequence's CTAs.
  if (seq == p.seq.num_sequences - 1 && part == 0) {
    for (long long tok = p.seq.cu_seqlens[p.seq.num_sequences]; tok < p.seq.total_tokens; ++tok) {
      cuda::token_ptr<T>(p.o, tok, head, rows_per_batch)[col] = cuda::from_float<T>(0.f);
    }
  }
}

}  // namespace qla::gdn
