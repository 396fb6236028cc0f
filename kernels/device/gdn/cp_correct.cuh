// Serial correction of the CP pieces' initial states, fp32. CTA = (V-slice of BV, head, raw
// sequence); thread r owns state row r of the slice. Per piece the step is latency-bound (the
// pieces are a serial chain), so the loads run ahead: thread r holds its whole row of M[j] in
// registers (128 floats), refills each float4 with M[j+1]'s while it multiplies piece j, and
// multiplies against the running state in shared memory, which every thread reads at the same
// address (a broadcast).
#pragma once

#include "qla/gdn/cp_params.hpp"

namespace qla::gdn {

template <int BV>
__global__ void __launch_bounds__(128) cp_correct_states_kernel(CpCorrectParams p) {
  constexpr int kK = 128;
  constexpr int kV = 128;
  constexpr int kQ = BV / 4;  // float4 per row slice
  static_assert(kV % BV == 0 && BV % 4 == 0 && BV <= 64,
                "BV divides 128, a multiple of 4, at most 64");
  __shared__ __align__(16) float4 h_s[kK][kQ];  // (K, BV) fp32 running state slice

  const int v0 = blockIdx.x * BV;
  const int head = blockIdx.y;
  const int raw = blockIdx.z;
  const int r = threadIdx.x;
  const long long head_state = static_cast<long long>(kK) * kV;
  float4 row[kQ];
  {
    const float4* h0 =
        p.h0 ? reinterpret_cast<const float4*>(
                   p.h0 + (static_cast<long long>(raw) * p.heads + head) * head_state + r * kV + v0)
             : nullptr;
#pragma unroll
    for (int q = 0; q < kQ; ++q) row[q] = h0 ? h0[q] : make_float4(0.f, 0.f, 0.f, 0.f);
  }
  // Row r of M[j], loaded for piece j while piece j − 1 still multiplies: each float4 is refilled
  // with the next piece's as soon as it was used (the state_pass writes M for every (piece, head),
  // zeros where not needed).
  const int first = p.raw_first_piece[raw], end = p.raw_first_piece[raw + 1];
  auto m_row = [&](int j) {
    return reinterpret_cast<const float4*>(
        p.m + (static_cast<long long>(j) * p.heads + head) * head_state +
        static_cast<long long>(r) * kK);
  };
  float4 mrow[kK / 4];
  if (first < end) {
    const float4* m = m_row(first);
#pragma unroll
    for (int i = 0; i < kK / 4; ++i) mrow[i] = m[i];
  }
  for (int j = first; j < end; ++j) {
    const long long base = (static_cast<long long>(j) * p.heads + head) * head_state;
    const bool fb = p.fallback[j * p.heads + head] != 0;
    float4* cp_h0 = reinterpret_cast<float4*>(p.cp_h0 + base + r * kV + v0);
#pragma unroll
    for (int q = 0; q < kQ; ++q) {
      cp_h0[q] = row[q];
      h_s[r][q] = row[q];
    }
    const float4* ht = reinterpret_cast<const float4*>(p.ht + base + r * kV + v0);
#pragma unroll
    for (int q = 0; q < kQ; ++q) row[q] = ht[q];
    const bool more = j + 1 < end;
    const float4* m_next = m_row(more ? j + 1 : j);
    __syncthreads();  // h_s complete
#pragma unroll
    for (int i4 = 0; i4 < kK / 4; ++i4) {
      if (fb) {  // row r of M[j] h: Σ_i M[r][i] h[i][:]
        const float mi[4] = {mrow[i4].x, mrow[i4].y, mrow[i4].z, mrow[i4].w};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
#pragma unroll
          for (int q = 0; q < kQ; ++q) {
            const float4 h = h_s[4 * i4 + e][q];
            row[q].x += mi[e] * h.x;
            row[q].y += mi[e] * h.y;
            row[q].z += mi[e] * h.z;
            row[q].w += mi[e] * h.w;
          }
        }
      }
      if (more) mrow[i4] = m_next[i4];
    }
    __syncthreads();  // every read of h_s done before the next piece overwrites it
  }
}

}  // namespace qla::gdn
