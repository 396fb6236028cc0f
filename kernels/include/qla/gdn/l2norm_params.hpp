// Params of l2norm_kernel. Builtin types only (host, nvcc and NVRTC).
#pragma once

#include "qla/gdn/tensor_views.hpp"

namespace qla::gdn {

/// y = x * rsqrt(sum(x^2) + eps) per (token, head) vector of 128 elements (FLA's
/// use_qk_l2norm_in_kernel). x, y [B,T,heads,128] in the kernel's element type (may alias); rstd
/// [B*T, heads] fp32 or null. Grid ceil(rows * heads / Warps), Warps*32 threads; one warp per
/// vector.
struct L2NormParams {
  TokenTensor x;
  TokenTensor y;
  float* rstd;
  long long rows;            ///< B*T flat tokens
  long long tokens_per_row;  ///< T
  int heads;
  float eps;  ///< 1e-6
};

}  // namespace qla::gdn
