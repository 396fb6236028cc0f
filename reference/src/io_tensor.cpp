#include <Eigen/Core>
#include <cstring>
#include <sstream>
#include <utility>

#include "qla/error.hpp"
#include "qla/io/tensor.hpp"

// Element bytes are stored little-endian, as .npy files and CUDA devices hold them; copying them
// with memcpy is only correct on a little-endian host, which every platform qla targets is.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "qla::Tensor assumes a little-endian host");

namespace qla {
namespace {

std::int64_t checked_numel(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t e : shape) {
    QLA_REQUIRE(e >= 0, "tensor shape " << shape_string(shape) << " has a negative extent");
    n *= e;
  }
  return n;
}

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T>
void store(std::byte* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

}  // namespace

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

Tensor::Tensor() : dtype_(DType::kF32), numel_(1), bytes_(sizeof(float)) {}

Tensor::Tensor(DType dtype, std::vector<std::int64_t> shape)
    : dtype_(dtype),
      shape_(std::move(shape)),
      numel_(checked_numel(shape_)),
      bytes_(static_cast<std::size_t>(numel_) * dtype_size(dtype)) {}

Tensor Tensor::from_doubles(DType dtype, std::vector<std::int64_t> shape,
                            const std::vector<double>& values) {
  Tensor t(dtype, std::move(shape));
  QLA_REQUIRE(static_cast<std::int64_t>(values.size()) == t.numel(),
              "tensor of shape " << t.shape_string() << " needs " << t.numel() << " values, got "
                                 << values.size());
  for (std::int64_t i = 0; i < t.numel(); ++i) t.set(i, values[static_cast<std::size_t>(i)]);
  return t;
}

Tensor Tensor::from_floats(DType dtype, std::vector<std::int64_t> shape,
                           const std::vector<float>& values) {
  Tensor t(dtype, std::move(shape));
  QLA_REQUIRE(static_cast<std::int64_t>(values.size()) == t.numel(),
              "tensor of shape " << t.shape_string() << " needs " << t.numel() << " values, got "
                                 << values.size());
  // Going through double is exact for float inputs, so this rounds once, like a direct float cast.
  for (std::int64_t i = 0; i < t.numel(); ++i) t.set(i, values[static_cast<std::size_t>(i)]);
  return t;
}

Tensor Tensor::from_bytes(DType dtype, std::vector<std::int64_t> shape,
                          std::vector<std::byte> bytes) {
  Tensor t(dtype, std::move(shape));
  QLA_REQUIRE(bytes.size() == t.nbytes(),
              "tensor of shape " << t.shape_string() << " and dtype " << dtype_name(dtype)
                                 << " needs " << t.nbytes() << " bytes, got " << bytes.size());
  t.bytes_ = std::move(bytes);
  return t;
}

double Tensor::get(std::int64_t i) const {
  const std::byte* p = bytes_.data() + static_cast<std::size_t>(i) * dtype_size(dtype_);
  switch (dtype_) {
    case DType::kF32:
      return load<float>(p);
    case DType::kF64:
      return load<double>(p);
    case DType::kF16:
      return static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(load<std::uint16_t>(p)));
    case DType::kBF16:
      return static_cast<float>(Eigen::numext::bit_cast<Eigen::bfloat16>(load<std::uint16_t>(p)));
    case DType::kI32:
      return load<std::int32_t>(p);
    case DType::kI64:
      return static_cast<double>(load<std::int64_t>(p));
  }
  return 0.0;
}

void Tensor::set(std::int64_t i, double value) {
  std::byte* p = bytes_.data() + static_cast<std::size_t>(i) * dtype_size(dtype_);
  switch (dtype_) {
    case DType::kF32:
      store(p, static_cast<float>(value));
      return;
    case DType::kF64:
      store(p, value);
      return;
    case DType::kF16:
      store(p, Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(static_cast<float>(value))));
      return;
    case DType::kBF16:
      store(p, Eigen::numext::bit_cast<std::uint16_t>(Eigen::bfloat16(static_cast<float>(value))));
      return;
    case DType::kI32:
      store(p, static_cast<std::int32_t>(value));
      return;
    case DType::kI64:
      store(p, static_cast<std::int64_t>(value));
      return;
  }
}

std::vector<double> Tensor::to_doubles() const {
  std::vector<double> out(static_cast<std::size_t>(numel_));
  for (std::int64_t i = 0; i < numel_; ++i) out[static_cast<std::size_t>(i)] = get(i);
  return out;
}

std::vector<float> Tensor::to_floats() const {
  std::vector<float> out(static_cast<std::size_t>(numel_));
  for (std::int64_t i = 0; i < numel_; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<float>(get(i));
  return out;
}

std::string Tensor::shape_string() const { return qla::shape_string(shape_); }

std::string Tensor::index_string(std::int64_t i) const {
  std::vector<std::int64_t> idx(shape_.size());
  for (std::size_t d = shape_.size(); d-- > 0;) {
    const std::int64_t e = shape_[d] > 0 ? shape_[d] : 1;
    idx[d] = i % e;
    i /= e;
  }
  return qla::shape_string(idx);
}

bool Tensor::operator==(const Tensor& other) const {
  return dtype_ == other.dtype_ && shape_ == other.shape_ && bytes_ == other.bytes_;
}

}  // namespace qla
