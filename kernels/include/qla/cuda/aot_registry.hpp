// Registry of the kernels compiled ahead of time by nvcc. A `.cu` unit instantiates a kernel
// template and registers its host stub under its name expression; the launcher looks a KernelSpec
// up here first and falls back to NVRTC when the config was not built ahead of time.
//
//   QLA_REGISTER_AOT_KERNEL("gdn/naive_fwd.cuh", (qla::gdn::naive_fwd_kernel<64, __nv_bfloat16>));
//
// Name expressions are compared with all whitespace removed. The library holding registrations must
// be linked whole (its objects have no other referenced symbols).
#pragma once

#include <string>

namespace qla::cuda {

/// Records `host_stub` (the address of a __global__ function) for `source` and `name_expression`.
void register_aot_kernel(const char* source, const char* name_expression, const void* host_stub);

/// The host stub registered for the spec, or nullptr when that instantiation was not compiled ahead
/// of time.
const void* find_aot_kernel(const std::string& source, const std::string& name_expression);

}  // namespace qla::cuda

#define QLA_AOT_CAT2_(a, b) a##b
#define QLA_AOT_CAT_(a, b) QLA_AOT_CAT2_(a, b)
/// Registers an explicitly instantiated kernel; `kernel` is the parenthesised template-id.
#define QLA_REGISTER_AOT_KERNEL(source, kernel)                                                   \
  static const bool QLA_AOT_CAT_(qla_aot_registered_, __COUNTER__) =                              \
      (::qla::cuda::register_aot_kernel(source, #kernel, reinterpret_cast<const void*>(&kernel)), \
       true)
