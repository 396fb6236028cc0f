// The TMA view of the CP transitions M that gdn.cp_correct's stage_m = 2 reads: rank 3 (column,
// row, piece·heads + head), fp32, boxes of kCpMBoxCols columns x 128 rows of one matrix, 128-byte
// swizzle. Host side; encode it with cuda::encode_tensor_map and pass it in CpCorrectParams::m_map.
#pragma once

#include <cstdint>

#include "qla/cuda/tensor_map_encode.hpp"
#include "qla/gdn/cp_params.hpp"

namespace qla::gdn {

/// The view of `states` matrices of 128 x 128 floats at `m`, one after another ([P, heads, K, K]
/// with P·heads = states).
inline cuda::TensorMapDesc cp_correct_m_map_desc(const float* m, long long states) {
  cuda::TensorMapDesc d;
  d.base = m;
  d.dtype = DType::kF32;
  d.rank = 3;
  const auto rows = static_cast<std::uint64_t>(kCpStateRows);
  d.extent = {rows, rows, static_cast<std::uint64_t>(states), 0, 0};
  d.stride_bytes = {0, rows * sizeof(float), rows * rows * sizeof(float), 0, 0};
  d.box = {static_cast<std::uint32_t>(kCpMBoxCols), static_cast<std::uint32_t>(kCpStateRows), 1, 0,
           0};
  d.swizzle = cuda::TmaSwizzle::k128B;
  return d;
}

}  // namespace qla::gdn
