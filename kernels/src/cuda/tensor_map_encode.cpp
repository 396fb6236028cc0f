#include "qla/cuda/tensor_map_encode.hpp"

#include <cuda.h>

#include <cstdint>
#include <string>

#include "qla/cuda/driver_api.hpp"
#include "qla/error.hpp"

namespace qla::cuda {
namespace {

// The driver's type is 128-byte aligned in CUDA 13 headers (64 in 12.x); TMA needs 64, which is
// what Params can promise. The 128 bytes are copied across.
static_assert(sizeof(TensorMap) == sizeof(CUtensorMap),
              "qla::cuda::TensorMap must hold a CUtensorMap");

CUtensorMapDataType data_type(DType t) {
  switch (t) {
    case DType::kBF16:
      return CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    case DType::kF16:
      return CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
    case DType::kF32:
      return CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
    case DType::kF64:
      return CU_TENSOR_MAP_DATA_TYPE_FLOAT64;
    case DType::kI32:
      return CU_TENSOR_MAP_DATA_TYPE_INT32;
    case DType::kI64:
      return CU_TENSOR_MAP_DATA_TYPE_INT64;
  }
  return CU_TENSOR_MAP_DATA_TYPE_UINT8;
}

CUtensorMapSwizzle swizzle_of(TmaSwizzle s) {
  switch (s) {
    case TmaSwizzle::kNone:
      return CU_TENSOR_MAP_SWIZZLE_NONE;
    case TmaSwizzle::k32B:
      return CU_TENSOR_MAP_SWIZZLE_32B;
    case TmaSwizzle::k64B:
      return CU_TENSOR_MAP_SWIZZLE_64B;
    case TmaSwizzle::k128B:
      return CU_TENSOR_MAP_SWIZZLE_128B;
  }
  return CU_TENSOR_MAP_SWIZZLE_NONE;
}

CUtensorMapL2promotion l2_of(TmaL2Promotion p) {
  switch (p) {
    case TmaL2Promotion::kNone:
      return CU_TENSOR_MAP_L2_PROMOTION_NONE;
    case TmaL2Promotion::k64B:
      return CU_TENSOR_MAP_L2_PROMOTION_L2_64B;
    case TmaL2Promotion::k128B:
      return CU_TENSOR_MAP_L2_PROMOTION_L2_128B;
    case TmaL2Promotion::k256B:
      return CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
  }
  return CU_TENSOR_MAP_L2_PROMOTION_NONE;
}

bool known_swizzle(TmaSwizzle s) {
  return s == TmaSwizzle::kNone || s == TmaSwizzle::k32B || s == TmaSwizzle::k64B ||
         s == TmaSwizzle::k128B;
}

bool known_l2(TmaL2Promotion p) {
  return p == TmaL2Promotion::kNone || p == TmaL2Promotion::k64B || p == TmaL2Promotion::k128B ||
         p == TmaL2Promotion::k256B;
}

}  // namespace

std::string check_tensor_map(const TensorMapDesc& d) {
  const std::uint64_t elem = dtype_size(d.dtype);
  if (d.rank < 1 || d.rank > kTmaMaxRank)
    return "tensor map: rank " + std::to_string(d.rank) + " is outside 1.." +
           std::to_string(kTmaMaxRank);
  if (d.base == nullptr) return "tensor map: null base address";
  if (reinterpret_cast<std::uintptr_t>(d.base) % 16 != 0)
    return "tensor map: base address is not 16-byte aligned";
  if (!known_swizzle(d.swizzle)) return "tensor map: unknown swizzle";
  if (!known_l2(d.l2_promotion)) return "tensor map: unknown L2 promotion";
  for (int i = 0; i < d.rank; ++i) {
    const std::string dim = "dimension " + std::to_string(i);
    if (d.extent[i] == 0 || d.extent[i] > (std::uint64_t{1} << 32))
      return "tensor map: " + dim + " extent " + std::to_string(d.extent[i]) +
             " is outside 1..2^32";
    if (i > 0 && (d.stride_bytes[i] % 16 != 0 || d.stride_bytes[i] >= (std::uint64_t{1} << 40)))
      return "tensor map: " + dim + " stride of " + std::to_string(d.stride_bytes[i]) +
             " bytes is not a multiple of 16 below 2^40";
    if (d.box[i] == 0 || d.box[i] > 256)
      return "tensor map: " + dim + " box of " + std::to_string(d.box[i]) +
             " elements is outside 1..256";
    if (d.box[i] > d.extent[i])
      return "tensor map: " + dim + " box of " + std::to_string(d.box[i]) +
             " elements exceeds its extent " + std::to_string(d.extent[i]);
    if (d.element_stride[i] == 0 || d.element_stride[i] > 8)
      return "tensor map: " + dim + " element stride " + std::to_string(d.element_stride[i]) +
             " is outside 1..8";
  }
  const std::uint64_t inner_bytes = d.box[0] * elem;
  if (inner_bytes % 16 != 0)
    return "tensor map: the inner box row of " + std::to_string(inner_bytes) +
           " bytes is not a multiple of 16";
  if (d.swizzle != TmaSwizzle::kNone && inner_bytes > static_cast<std::uint64_t>(d.swizzle))
    return "tensor map: the inner box row of " + std::to_string(inner_bytes) +
           " bytes exceeds the " + std::to_string(static_cast<int>(d.swizzle)) +
           "-byte swizzle span";
  if (d.oob_nan && !is_floating(d.dtype))
    return "tensor map: NaN fill needs a floating-point dtype";
  return {};
}

TiledEncodeArgs tiled_encode_args(const TensorMapDesc& d) {
  if (std::string why = check_tensor_map(d); !why.empty()) throw UserError(why);
  TiledEncodeArgs a;
  a.data_type = data_type(d.dtype);
  a.rank = static_cast<std::uint32_t>(d.rank);
  a.base = d.base;
  for (int i = 0; i < d.rank; ++i) {
    a.global_dim[i] = d.extent[i];
    a.box_dim[i] = d.box[i];
    a.element_strides[i] = d.element_stride[i];
    if (i > 0) a.global_strides[i - 1] = d.stride_bytes[i];
  }
  a.interleave = CU_TENSOR_MAP_INTERLEAVE_NONE;
  a.swizzle = swizzle_of(d.swizzle);
  a.l2_promotion = l2_of(d.l2_promotion);
  a.oob_fill = d.oob_nan ? CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA
                         : CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE;
  return a;
}

std::uint32_t tensor_map_box_bytes(const TensorMapDesc& d) {
  std::uint64_t n = dtype_size(d.dtype);
  for (int i = 0; i < d.rank && i < kTmaMaxRank; ++i)
    n *= (d.box[i] + d.element_stride[i] - 1) / d.element_stride[i];
  return static_cast<std::uint32_t>(n);
}

TensorMap encode_tensor_map(const TensorMapDesc& d) {
  const TiledEncodeArgs a = tiled_encode_args(d);
  const auto encode = driver().cuTensorMapEncodeTiled;
  if (!encode)
    raise_api_error("CUDA driver", __FILE__, __LINE__, "cuTensorMapEncodeTiled",
                    "the driver has no TMA descriptor encoder (it predates CUDA 12.0)");
  CUtensorMap map{};
  cuuint64_t dims[kTmaMaxRank], strides[kTmaMaxRank - 1];
  cuuint32_t box[kTmaMaxRank], elem_strides[kTmaMaxRank];
  for (int i = 0; i < kTmaMaxRank; ++i) {
    dims[i] = a.global_dim[i];
    box[i] = a.box_dim[i];
    elem_strides[i] = a.element_strides[i];
    if (i < kTmaMaxRank - 1) strides[i] = a.global_strides[i];
  }
  QLA_CU_CHECK(encode(&map, static_cast<CUtensorMapDataType>(a.data_type), a.rank,
                      const_cast<void*>(a.base), dims, strides, box, elem_strides,
                      static_cast<CUtensorMapInterleave>(a.interleave),
                      static_cast<CUtensorMapSwizzle>(a.swizzle),
                      static_cast<CUtensorMapL2promotion>(a.l2_promotion),
                      static_cast<CUtensorMapFloatOOBfill>(a.oob_fill)));
  TensorMap out;
  static_assert(sizeof out.opaque == sizeof map.opaque, "same 128 bytes");
  for (int i = 0; i < 16; ++i) out.opaque[i] = map.opaque[i];
  return out;
}

}  // namespace qla::cuda
