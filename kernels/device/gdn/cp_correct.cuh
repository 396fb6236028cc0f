// Serial correction of the CP pieces' initial states, fp32: per raw sequence, h ← h0, then for each
// piece j in order cp_h0[j] = h, h = ht[j] + (fallback[j] ? M[j] h : 0). CTA = (V-slice of BV,
// head, raw sequence); thread r owns state row r of the slice. The pieces are a serial chain, so
// everything a step reads from global memory is loaded ahead: row r of ht[j+1] and, only where
// piece j+1 falls back, row r of M[j+1] (128 floats in registers, each float4 refilled as soon as
// piece j has used it) one piece ahead, and the fallback flag that decides the M load two ahead.
// What is left on the chain is the 128 x BV multiply against the running state in shared memory,
// which every thread reads at the same address (a broadcast), and two barriers. A small BV spreads
// a head over more CTAs and shortens each step.
#pragma once

#include "common/griddep.cuh"
#include "qla/gdn/cp_params.hpp"

namespace qla::gdn {

template <int BV>
__global__ void __launch_bounds__(128) cp_correct_states_kernel(CpCorrectParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  constexpr int kK = 128;
  constexpr int kV = 128;
  constexpr int kQ = BV / 4;  // float4 per row slice
  static_assert(kV % BV == 0 && BV % 4 == 0 && BV <= 32,
                "BV divides 128, a multiple of 4, at most 32");
  __shared__ __align__(16) float4 h_s[kK][kQ];  // (K, BV) fp32 running state slice

  const int v0 = blockIdx.x * BV;
  const int head = blockIdx.y;
  const int raw = blockIdx.z;
  const int r = threadIdx.x;
  const long long head_state = static_cast<long long>(kK) * kV;
  auto base_of = [&](int j) { return (static_cast<long long>(j) * p.heads + head) * head_state; };
  float4 row[kQ];
  {
    const float4* h0 =
        p.h0 ? reinterpret_cast<const float4*>(
                   p.h0 + (static_cast<long long>(raw) * p.heads + head) * head_state + r * kV + v0)
             : nullptr;
#pragma unroll
    for (int q = 0; q < kQ; ++q) row[q] = h0 ? h0[q] : make_float4(0.f, 0.f, 0.f, 0.f);
  }
  const int first = p.raw_first_piece[raw], end = p.raw_first_piece[raw + 1];
  auto m_row = [&](int j) {
    return reinterpret_cast<const float4*>(p.m + base_of(j) + static_cast<long long>(r) * kK);
  };
  auto ht_row = [&](int j) {
    return reinterpret_cast<const float4*>(p.ht + base_of(j) + r * kV + v0);
  };
  // Piece j's inputs, loaded during piece j − 1 (its flag during piece j − 2).
  auto flag = [&](int j) { return j < end && p.fallback[j * p.heads + head] != 0; };
  bool fb = false, fb_next = false;
  float4 mrow[kK / 4];
  float4 next[kQ];
  if (first < end) {
    fb = flag(first);
    fb_next = flag(first + 1);
    if (fb) {
      const float4* m = m_row(first);
#pragma unroll
      for (int i = 0; i < kK / 4; ++i) mrow[i] = m[i];
    }
    const float4* ht = ht_row(first);
#pragma unroll
    for (int q = 0; q < kQ; ++q) next[q] = ht[q];
  }
  for (int j = first; j < end; ++j) {
    float4* cp_h0 = reinterpret_cast<float4*>(p.cp_h0 + base_of(j) + r * kV + v0);
#pragma unroll
    for (int q = 0; q < kQ; ++q) {
      cp_h0[q] = row[q];
      h_s[r][q] = row[q];
      row[q] = next[q];
    }
    const bool more = j + 1 < end;
    const bool fb_after = flag(j + 2);  // used by the next step; its latency hides under this one
    if (more) {
      const float4* ht = ht_row(j + 1);
#pragma unroll
      for (int q = 0; q < kQ; ++q) next[q] = ht[q];
    }
    if (fb) {
      const float4* m_next = m_row(fb_next ? j + 1 : j);
      __syncthreads();  // h_s complete
#pragma unroll
      for (int i4 = 0; i4 < kK / 4; ++i4) {  // row r of M[j] h: Σ_i M[r][i] h[i][:]
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
        if (fb_next) mrow[i4] = m_next[i4];
      }
      __syncthreads();  // every read of h_s done before the next piece overwrites it
    } else if (fb_next) {
      const float4* m_next = m_row(j + 1);
#pragma unroll
      for (int i = 0; i < kK / 4; ++i) mrow[i] = m_next[i];
    }
    fb = fb_next;
    fb_next = fb_after;
  }
}

}  // namespace qla::gdn
