// Host encoding of TMA tensor maps (cuTensorMapEncodeTiled, reached through
// cudaGetDriverEntryPointByVersion: binaries never link libcuda). A TensorMapDesc describes a tiled
// view of a strided global tensor; it is checked against the rules of the PTX ISA and the driver
// documentation (alignments, extents, box and swizzle limits) before the driver sees it, so a bad
// view is a clear message rather than CUDA_ERROR_INVALID_VALUE.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "qla/cuda/tensor_map.hpp"
#include "qla/dtype.hpp"

namespace qla::cuda {

/// Shared-memory swizzle of the box: the span in bytes within which 16-byte units are permuted.
enum class TmaSwizzle : std::uint8_t { kNone = 0, k32B = 32, k64B = 64, k128B = 128 };

/// How far a load may promote into L2: none, or a 64/128/256-byte sector group.
enum class TmaL2Promotion : std::uint16_t { kNone = 0, k64B = 64, k128B = 128, k256B = 256 };

/// Largest tensor rank TMA takes.
inline constexpr int kTmaMaxRank = 5;

/// A tiled TMA view. Dimension 0 is the contiguous one (as in the driver API: innermost first).
struct TensorMapDesc {
  const void* base = nullptr;  ///< global address of element (0, ..., 0), 16-B aligned
  DType dtype = DType::kBF16;
  int rank = 2;                                     ///< 1 .. kTmaMaxRank
  std::array<std::uint64_t, kTmaMaxRank> extent{};  ///< elements per dimension, 1 .. 2^32
  /// Bytes between consecutive indices of dimension d, for d = 1 .. rank-1 (entry 0 is ignored:
  /// dimension 0 is contiguous); each a multiple of 16, below 2^40.
  std::array<std::uint64_t, kTmaMaxRank> stride_bytes{};
  std::array<std::uint32_t, kTmaMaxRank> box{};  ///< tile elements per dimension, 1 .. 256
  std::array<std::uint32_t, kTmaMaxRank> element_stride{1, 1, 1, 1,
                                                        1};  ///< 1 .. 8 (1 = every element)
  TmaSwizzle swizzle = TmaSwizzle::k128B;
  TmaL2Promotion l2_promotion = TmaL2Promotion::k128B;
  bool oob_nan = false;  ///< out-of-bounds elements read as NaN, else zero
};

/// The exact arguments cuTensorMapEncodeTiled receives for a TensorMapDesc, as plain integers (the
/// values of the driver's CUtensorMap* enumerators), so they can be checked on machines without a
/// driver.
struct TiledEncodeArgs {
  int data_type = 0;  ///< CUtensorMapDataType
  std::uint32_t rank = 0;
  const void* base = nullptr;
  std::array<std::uint64_t, kTmaMaxRank> global_dim{};
  std::array<std::uint64_t, kTmaMaxRank - 1> global_strides{};  ///< bytes, dimensions 1 .. rank-1
  std::array<std::uint32_t, kTmaMaxRank> box_dim{};
  std::array<std::uint32_t, kTmaMaxRank> element_strides{};
  int interleave = 0;    ///< CUtensorMapInterleave (always none here)
  int swizzle = 0;       ///< CUtensorMapSwizzle
  int l2_promotion = 0;  ///< CUtensorMapL2promotion
  int oob_fill = 0;      ///< CUtensorMapFloatOOBfill
};

/// Empty when `d` is a view TMA can take, else the first rule it breaks.
std::string check_tensor_map(const TensorMapDesc& d);

/// The driver arguments of `d`; throws UserError with check_tensor_map's message when it breaks a
/// rule.
TiledEncodeArgs tiled_encode_args(const TensorMapDesc& d);

/// Bytes one box occupies in shared memory (the transaction count its load completes on an
/// mbarrier).
std::uint32_t tensor_map_box_bytes(const TensorMapDesc& d);

/// Encodes `d` with the driver. Throws UserError for a view that breaks a rule, ApiError when the
/// driver lacks the entry point or refuses.
TensorMap encode_tensor_map(const TensorMapDesc& d);

}  // namespace qla::cuda
