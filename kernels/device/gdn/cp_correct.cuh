// Serial correction of the CP pieces' initial states (GDN.md §2.6), fp32. CTA = (V-slice of BV, head, raw
// sequence); thread r owns state row r of the slice; h lives in smem because M h reads every row.
#pragma once

#include "qla/gdn/cp_params.hpp"

namespace qla::gdn {

template <int BV>
__global__ void __launch_bounds__(128) cp_correct_states_kernel(CpCorrectParams p) {
  constexpr int kK = 128;
  constexpr int kV = 128;
  static_assert(kV % BV == 0 && BV <= 64, "BV divides 128, at most 64");
  __shared__ float h_s[kK][BV + 1];  // (K, BV) fp32 running state slice

  const int v0 = blockIdx.x * BV;
  const int head = blockIdx.y;
  const int raw = blockIdx.z;
  const int r = threadIdx.x;
  const long long head_state = static_cast<long long>(kK) * kV;
  float row[BV];
#pragma unroll
  for (int c = 0; c < BV; ++c) {
    row[c] = p.h0 ? p.h0[(static_cast<long long>(raw) * p.heads + head) * head_state + r * kV + v0 + c] : 0.f;
  }
  for (int j = p.raw_first_piece[raw]; j < p.raw_first_piece[raw + 1]; ++j) {
    const long long base = (static_cast<long long>(j) * p.heads + head) * head_state;
#pragma unroll
    for (int c = 0; c < BV; ++c) {
      p.cp_h0[base + r * kV + v0 + c] = row[c];
      h_s[r][c] = row[c];
    }
    __syncthreads();
    const bool fb = p.fallback[j * p.heads + head] != 0;
#pragma unroll
    for (int c = 0; c < BV; ++c) row[c] = p.ht[base + r * kV + v0 + c];
    if (fb) {  // row r of M[j] h: Σ_i M[r][i] h[i][:]
      const float* m = p.m + base + static_cast<long long>(r) * kK;
      for (int i = 0; i < kK; ++i) {
        const float mi = m[i];
#pragma unroll
        for (int c = 0; c < BV; ++c) row[c] += mi * h_s[i][c];
      }
    }
    __syncthreads();
  }
}

}  // namespace qla::gdn
