// Element conversions and token addressing shared by K1's kernels. NVRTC-safe (no host std headers).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "qla/gdn/tensor_views.hpp"

namespace qla::gdn::dev {

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

/// Element offset of (flat token f = b*T + t, head) in a token-major tensor: b*stride_batch + t*stride_token +
/// head*stride_head.
__device__ __forceinline__ long long token_offset(const TokenTensor& x, long long flat_token,
                                                  long long tokens_per_row, int head) {
  const long long b = flat_token / tokens_per_row;
  const long long t = flat_token - b * tokens_per_row;
  return b * x.stride_batch + t * x.stride_token + head * x.stride_head;
}

template <typename T>
__device__ __forceinline__ T* token_ptr(const TokenTensor& x, long long flat_token, long long tokens_per_row,
                                        int head) {
  return static_cast<T*>(x.data) + token_offset(x, flat_token, tokens_per_row, head);
}

}  // namespace qla::gdn::dev
