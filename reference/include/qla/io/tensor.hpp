// qla::Tensor: a host tensor (dtype + shape + bytes), the unit that .npy files, generators and the
// CLI exchange. Plain C++17, no CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qla/dtype.hpp"

namespace qla {

/// A dense, C-ordered (row-major), little-endian host tensor.
///
/// Invariants: every extent of `shape()` is >= 0; `bytes().size() == numel() *
/// dtype_size(dtype())`. A rank-0 tensor (empty shape) is a scalar with one element. Floating
/// conversions round to nearest even (through Eigen::bfloat16 / Eigen::half for the 16-bit types;
/// float64 values reach bf16/f16 through float, as PyTorch's casts do); integer conversions
/// truncate toward zero.
class Tensor {
 public:
  /// A rank-0 f32 tensor holding 0.
  Tensor();
  /// Zero-filled tensor. Throws UserError on a negative extent.
  Tensor(DType dtype, std::vector<std::int64_t> shape);

  /// Rounds each value to `dtype`. Throws UserError when values.size() != product(shape).
  static Tensor from_doubles(DType dtype, std::vector<std::int64_t> shape,
                             const std::vector<double>& values);
  static Tensor from_floats(DType dtype, std::vector<std::int64_t> shape,
                            const std::vector<float>& values);
  /// Takes raw little-endian element bytes. Throws UserError when the size does not match.
  static Tensor from_bytes(DType dtype, std::vector<std::int64_t> shape,
                           std::vector<std::byte> bytes);

  DType dtype() const { return dtype_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  /// Product of the extents (1 for rank 0).
  std::int64_t numel() const { return numel_; }
  std::size_t nbytes() const { return bytes_.size(); }
  const std::vector<std::byte>& bytes() const { return bytes_; }
  std::byte* data() { return bytes_.data(); }
  const std::byte* data() const { return bytes_.data(); }

  /// Element `i` of the flat C-order index, widened to double. Precondition: 0 <= i < numel().
  double get(std::int64_t i) const;
  /// Stores `value` rounded to dtype() at flat index i. Precondition: 0 <= i < numel().
  void set(std::int64_t i, double value);

  std::vector<double> to_doubles() const;
  std::vector<float> to_floats() const;

  /// "[1, 4096, 2, 128]".
  std::string shape_string() const;
  /// C-order multi-index of flat index i, e.g. "[0, 17, 1, 5]".
  std::string index_string(std::int64_t i) const;

  /// Same dtype, shape and bytes.
  bool operator==(const Tensor& other) const;
  bool operator!=(const Tensor& other) const { return !(*this == other); }

 private:
  DType dtype_;
  std::vector<std::int64_t> shape_;
  std::int64_t numel_;
  std::vector<std::byte> bytes_;
};

/// "[a, b, c]" for any list of extents.
std::string shape_string(const std::vector<std::int64_t>& shape);

}  // namespace qla
