// Element types of the tensors qla reads and writes. Plain C++17.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace qla {

enum class DType : std::uint8_t { kF32, kF16, kBF16, kF64, kI32, kI64 };

/// Bytes per element.
constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF16:
    case DType::kBF16:
      return 2;
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kF64:
    case DType::kI64:
      return 8;
  }
  return 0;
}

/// Short name: "f32", "f16", "bf16", "f64", "i32", "i64".
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
    case DType::kF64:
      return "f64";
    case DType::kI32:
      return "i32";
    case DType::kI64:
      return "i64";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t != DType::kI32 && t != DType::kI64; }

/// Parses a name of dtype_name() (also "float32", "float16", "bfloat16", ...); nullopt when
/// unknown.
constexpr std::optional<DType> parse_dtype(std::string_view name) {
  if (name == "f32" || name == "float32" || name == "fp32") return DType::kF32;
  if (name == "f16" || name == "float16" || name == "fp16") return DType::kF16;
  if (name == "bf16" || name == "bfloat16") return DType::kBF16;
  if (name == "f64" || name == "float64" || name == "fp64") return DType::kF64;
  if (name == "i32" || name == "int32") return DType::kI32;
  if (name == "i64" || name == "int64") return DType::kI64;
  return std::nullopt;
}

}  // namespace qla
