// The CUDA C++ spelling of element types in kernel name expressions (KernelSpec::name_expression).
#pragma once

#include <string>

#include "qla/dtype.hpp"
#include "qla/error.hpp"

namespace qla::cuda {

/// "__nv_bfloat16", "__half" or "float"; throws UserError for types no kernel takes.
inline std::string cuda_type_name(DType t) {
  switch (t) {
    case DType::kBF16:
      return "__nv_bfloat16";
    case DType::kF16:
      return "__half";
    case DType::kF32:
      return "float";
    default:
      break;
  }
  throw UserError(std::string("no kernel takes elements of type ") + std::string(dtype_name(t)));
}

}  // namespace qla::cuda
