// QLA_CUDA_CHECK: every CUDA runtime call goes through it; a failure throws qla::ApiError with
// file, line, the call text and the runtime's message (error.hpp).
#pragma once

#include <cuda_runtime_api.h>

#include "qla/error.hpp"

namespace qla::cuda {

[[noreturn]] inline void raise_cuda_error(cudaError_t rc, const char* file, int line,
                                          const char* call) {
  raise_api_error("CUDA", file, line, call,
                  std::string(cudaGetErrorName(rc)) + ": " + cudaGetErrorString(rc));
}

}  // namespace qla::cuda

#define QLA_CUDA_CHECK(call)                                                  \
  do {                                                                        \
    const cudaError_t qla_cuda_rc_ = (call);                                  \
    if (qla_cuda_rc_ != cudaSuccess)                                          \
      ::qla::cuda::raise_cuda_error(qla_cuda_rc_, __FILE__, __LINE__, #call); \
  } while (0)
