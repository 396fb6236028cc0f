// The device vocabulary every kernel shares: element conversion (fp32 ⇄ bf16/fp16, round to
// nearest), 16-bit pair packing, and token addressing in token-major tensors. Compiles under nvcc
// and NVRTC (no host standard headers).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "qla/gdn/tensor_views.hpp"

namespace qla::cuda {

/// std::is_same without host headers.
template <class A, class B>
struct IsSame {
  static constexpr bool value = false;
};
template <class A>
struct IsSame<A, A> {
  static constexpr bool value = true;
};
/// A compile-time bool as a type (std::bool_constant, which NVRTC's headers lack).
template <bool B>
struct BoolConstant {
  static constexpr bool value = B;
};

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

template <class T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half_rn(x);
}

/// Two floats packed into one 32-bit register of T (low half = a).
template <class T>
__device__ __forceinline__ unsigned pack2(float a, float b);
template <>
__device__ __forceinline__ unsigned pack2<__half>(float a, float b) {
  const __half2 h = __floats2half2_rn(a, b);
  return *reinterpret_cast<const unsigned*>(&h);
}
template <>
__device__ __forceinline__ unsigned pack2<__nv_bfloat16>(float a, float b) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<const unsigned*>(&h);
}

/// The two 16-bit values of a register as floats (x from the low half).
template <typename T>
__device__ __forceinline__ void unpack2(unsigned r, float& x, float& y);
template <>
__device__ __forceinline__ void unpack2<__nv_bfloat16>(unsigned r, float& x, float& y) {
  const __nv_bfloat162 v = *reinterpret_cast<const __nv_bfloat162*>(&r);
  x = __low2float(v);
  y = __high2float(v);
}
template <>
__device__ __forceinline__ void unpack2<__half>(unsigned r, float& x, float& y) {
  const __half2 v = *reinterpret_cast<const __half2*>(&r);
  x = __low2float(v);
  y = __high2float(v);
}

/// Element offset of (flat token f = b*T + t, head h) in a token-major view, T = tokens_per_row:
/// b·stride_batch + t·stride_token + h·stride_head.
__device__ __forceinline__ long long token_offset(const gdn::TokenTensor& x, long long f, int h,
                                                  long long tokens_per_row) {
  const long long b = f / tokens_per_row;
  const long long t = f - b * tokens_per_row;
  return b * x.stride_batch + t * x.stride_token + static_cast<long long>(h) * x.stride_head;
}

/// Pointer to the first element of (flat token f, head h) in a token-major view of element type T.
template <class T>
__device__ __forceinline__ T* token_ptr(const gdn::TokenTensor& x, long long f, int h,
                                        long long tokens_per_row) {
  return static_cast<T*>(x.data) + token_offset(x, f, h, tokens_per_row);
}

}  // namespace qla::cuda
