// l2norm of q or k per head vector: y = x · rsqrt(Σx² + eps) in fp32, cast back to x's type.
// One warp per (token, head) vector of 128: each lane holds 4 elements.
#pragma once

#include "common/convert.cuh"
#include "qla/gdn/l2norm_params.hpp"

namespace qla::gdn {

template <int Warps, typename T>
__global__ void __launch_bounds__(Warps * 32) l2norm_kernel(L2NormParams p) {
  constexpr int kDim = 128;
  constexpr int kPerLane = kDim / 32;
  const long long vec = static_cast<long long>(blockIdx.x) * Warps + threadIdx.x / 32;
  if (vec >= p.rows * p.heads) return;
  const long long row = vec / p.heads;
  const int head = static_cast<int>(vec - row * p.heads);
  const int lane = threadIdx.x % 32;
  const T* x = cuda::token_ptr<const T>(p.x, row, head, p.tokens_per_row);
  float v[kPerLane];
  float ss = 0.f;
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) {
    v[e] = cuda::to_float(x[e * 32 + lane]);
    ss += v[e] * v[e];
  }
#pragma unroll
  for (int off = 16; off > 0; off /= 2) ss += __shfl_xor_sync(0xffffffffu, ss, off);
  const float rstd = rsqrtf(ss + p.eps);
  T* y = cuda::token_ptr<T>(p.y, row, head, p.tokens_per_row);
#pragma unroll
  for (int e = 0; e < kPerLane; ++e) y[e * 32 + lane] = cuda::from_float<T>(v[e] * rstd);
  if (p.rstd && lane == 0) p.rstd[row * p.heads + head] = rstd;
}

}  // namespace qla::gdn
