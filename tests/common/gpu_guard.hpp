// GPU tests call QLA_REQUIRE_GPU() first: on a machine without a usable GPU (no driver, no device)
// the test is skipped with the runtime's reason instead of failing.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

namespace qla::test {

/// Empty when a CUDA device is usable, otherwise why not.
inline std::string gpu_unavailable_reason() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear, so later calls are not poisoned
    return std::string("no usable GPU: ") + cudaGetErrorString(err);
  }
  if (n == 0) return "no CUDA device";
  return {};
}

}  // namespace qla::test

#define QLA_REQUIRE_GPU()                                                               \
  do {                                                                                  \
    if (auto qla_reason_ = ::qla::test::gpu_unavailable_reason(); !qla_reason_.empty()) \
      GTEST_SKIP() << qla_reason_;                                                      \
  } while (0)
