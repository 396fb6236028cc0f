// TMA descriptors on the CPU: the arguments cuTensorMapEncodeTiled receives for a view, and each
// rule of the PTX ISA / driver documentation that a view can break.
#include <cuda.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "qla/cuda/tensor_map_encode.hpp"
#include "qla/error.hpp"
#include "qla/gdn/cp_m_map.hpp"

namespace qla::cuda {
namespace {

alignas(256) const unsigned char kBuffer[256] = {};

/// q of a [T = 4096, H = 16, K = 128] bf16 tensor seen as (K, H, T) boxes of 64 × 1 × 64: one
/// head's 64 tokens, half of K (128 bytes, one 128-byte swizzle span).
TensorMapDesc q_view() {
  TensorMapDesc d;
  d.base = kBuffer;
  d.dtype = DType::kBF16;
  d.rank = 3;
  d.extent = {128, 16, 4096, 0, 0};
  d.stride_bytes = {0, 128 * 2, 16 * 128 * 2, 0, 0};
  d.box = {64, 1, 64, 0, 0};
  d.swizzle = TmaSwizzle::k128B;
  return d;
}

void expect_refused(const TensorMapDesc& d, const std::string& needle) {
  const std::string why = check_tensor_map(d);
  EXPECT_NE(why.find(needle), std::string::npos) << "'" << why << "' lacks '" << needle << "'";
  EXPECT_THROW(tiled_encode_args(d), UserError);
}

TEST(TensorMap, EncodeArgumentsOfATokenMajorView) {
  const TiledEncodeArgs a = tiled_encode_args(q_view());
  EXPECT_EQ(a.data_type, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16);
  EXPECT_EQ(a.rank, 3u);
  EXPECT_EQ(a.base, kBuffer);
  EXPECT_EQ(a.global_dim[0], 128u);
  EXPECT_EQ(a.global_dim[1], 16u);
  EXPECT_EQ(a.global_dim[2], 4096u);
  EXPECT_EQ(a.global_strides[0], 256u)
      << "dimension 1's stride goes first; dimension 0 is contiguous";
  EXPECT_EQ(a.global_strides[1], 4096u);
  EXPECT_EQ(a.box_dim[0], 64u);
  EXPECT_EQ(a.box_dim[1], 1u);
  EXPECT_EQ(a.box_dim[2], 64u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.element_strides[i], 1u);
  EXPECT_EQ(a.interleave, CU_TENSOR_MAP_INTERLEAVE_NONE);
  EXPECT_EQ(a.swizzle, CU_TENSOR_MAP_SWIZZLE_128B);
  EXPECT_EQ(a.l2_promotion, CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
  EXPECT_EQ(a.oob_fill, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  EXPECT_EQ(tensor_map_box_bytes(q_view()), 64u * 64u * 2u);
}

TEST(TensorMap, DtypesSwizzlesAndFills) {
  TensorMapDesc d = q_view();
  d.dtype = DType::kF16;
  EXPECT_EQ(tiled_encode_args(d).data_type, CU_TENSOR_MAP_DATA_TYPE_FLOAT16);
  d.dtype = DType::kF32;
  d.box[0] = 32;  // 128 bytes of f32
  d.oob_nan = true;
  EXPECT_EQ(tiled_encode_args(d).data_type, CU_TENSOR_MAP_DATA_TYPE_FLOAT32);
  EXPECT_EQ(tiled_encode_args(d).oob_fill, CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA);
  d.swizzle = TmaSwizzle::k64B;
  d.box[0] = 16;
  EXPECT_EQ(tiled_encode_args(d).swizzle, CU_TENSOR_MAP_SWIZZLE_64B);
  d.swizzle = TmaSwizzle::k32B;
  d.box[0] = 8;
  EXPECT_EQ(tiled_encode_args(d).swizzle, CU_TENSOR_MAP_SWIZZLE_32B);
  d.swizzle = TmaSwizzle::kNone;
  d.box[0] = 128;  // no swizzle: any multiple of 16 bytes up to 256 elements
  d.l2_promotion = TmaL2Promotion::k256B;
  EXPECT_EQ(tiled_encode_args(d).swizzle, CU_TENSOR_MAP_SWIZZLE_NONE);
  EXPECT_EQ(tiled_encode_args(d).l2_promotion, CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
  d.dtype = DType::kI32;
  expect_refused(d, "NaN fill");
}

TEST(TensorMap, RefusesWhatTmaCannotTake) {
  TensorMapDesc d = q_view();
  d.base = kBuffer + 8;
  expect_refused(d, "16-byte aligned");
  d = q_view();
  d.base = nullptr;
  expect_refused(d, "null base");
  d = q_view();
  d.rank = 6;
  expect_refused(d, "rank 6");
  d.rank = 0;
  expect_refused(d, "rank 0");
  d = q_view();
  d.stride_bytes[1] = 200;
  expect_refused(d, "dimension 1 stride of 200 bytes");
  d = q_view();
  d.stride_bytes[2] = std::uint64_t{1} << 40;
  expect_refused(d, "below 2^40");
  d = q_view();
  d.extent[2] = 0;
  expect_refused(d, "dimension 2 extent 0");
  d = q_view();
  d.extent[2] = (std::uint64_t{1} << 32) + 1;
  expect_refused(d, "outside 1..2^32");
  d = q_view();
  d.box[2] = 257;
  d.extent[2] = 4096;
  expect_refused(d, "box of 257");
  d = q_view();
  d.box[1] = 0;
  expect_refused(d, "dimension 1 box of 0");
  d = q_view();
  d.box[1] = 17;
  expect_refused(d, "exceeds its extent 16");
  d = q_view();
  d.box[0] = 128;  // 256 bytes
  expect_refused(d, "exceeds the 128-byte swizzle span");
  d = q_view();
  d.box[0] = 4;  // 8 bytes
  expect_refused(d, "not a multiple of 16");
  d = q_view();
  d.element_stride[0] = 9;
  expect_refused(d, "element stride 9");
  d = q_view();
  d.swizzle = static_cast<TmaSwizzle>(7);
  expect_refused(d, "unknown swizzle");
}

TEST(TensorMap, TheTypeKernelsHoldIsTheDriversSize) {
  EXPECT_EQ(sizeof(TensorMap), sizeof(CUtensorMap));
  EXPECT_EQ(alignof(TensorMap), 64u);
}

// The CP correction's view of its transitions M ([P·heads][128][128] fp32, stage_m = 2): one matrix
// a third-dimension index, boxes of 32 columns (128 bytes, one 128-byte swizzle span) x 128 rows,
// so kCpMBoxes boxes fill a matrix's 64 KB and the kernel's expect_tx counts the same bytes.
TEST(TensorMap, CpCorrectionViewOfTheTransitions) {
  const TensorMapDesc d = gdn::cp_correct_m_map_desc(reinterpret_cast<const float*>(kBuffer), 48);
  const TiledEncodeArgs a = tiled_encode_args(d);
  EXPECT_EQ(a.data_type, CU_TENSOR_MAP_DATA_TYPE_FLOAT32);
  EXPECT_EQ(a.rank, 3u);
  EXPECT_EQ(a.global_dim[0], 128u);
  EXPECT_EQ(a.global_dim[1], 128u);
  EXPECT_EQ(a.global_dim[2], 48u);
  EXPECT_EQ(a.global_strides[0], 128u * 4u) << "a row of M";
  EXPECT_EQ(a.global_strides[1], 128u * 128u * 4u) << "a matrix";
  EXPECT_EQ(a.box_dim[0], static_cast<std::uint32_t>(gdn::kCpMBoxCols));
  EXPECT_EQ(a.box_dim[1], 128u);
  EXPECT_EQ(a.box_dim[2], 1u);
  EXPECT_EQ(a.swizzle, CU_TENSOR_MAP_SWIZZLE_128B);
  EXPECT_EQ(gdn::kCpMBoxCols * 4, 128) << "a box row is one swizzle span";
  EXPECT_EQ(gdn::kCpMBoxes * tensor_map_box_bytes(d), 128u * 128u * 4u);
}

}  // namespace
}  // namespace qla::cuda
