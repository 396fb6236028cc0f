#include "qla/cuda/device_info.hpp"

#include <cuda_runtime_api.h>

#include "qla/cuda/check.hpp"

namespace qla::cuda {

std::optional<DeviceInfo> current_device() {
  int count = 0;
  // Without a driver this returns cudaErrorInsufficientDriver (or NoDevice): that means "no GPU".
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    return std::nullopt;
  }
  DeviceInfo info;
  QLA_CUDA_CHECK(cudaGetDevice(&info.ordinal));
  cudaDeviceProp prop{};
  QLA_CUDA_CHECK(cudaGetDeviceProperties(&prop, info.ordinal));
  info.name = prop.name;
  info.arch.cc_major = prop.major;
  info.arch.cc_minor = prop.minor;
  info.arch.sm_count = prop.multiProcessorCount;
  info.arch.smem_per_block_optin = static_cast<int>(prop.sharedMemPerBlockOptin);
  info.arch.regs_per_sm = prop.regsPerMultiprocessor;
  info.arch.l2_bytes = prop.l2CacheSize;
  return info;
}

bool gpu_available() {
  static const bool available = current_device().has_value();
  return available;
}

}  // namespace qla::cuda
