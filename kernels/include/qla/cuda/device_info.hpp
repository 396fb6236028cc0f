// The GPU a plan or a compile targets, read from the CUDA runtime. No GPU (or no driver, as in CI)
// is a normal answer here, not an error.
#pragma once

#include <optional>
#include <string>

#include "qla/space.hpp"

namespace qla::cuda {

/// One device as qla sees it.
struct DeviceInfo {
  int ordinal = 0;   ///< CUDA runtime device index
  std::string name;  ///< e.g. "NVIDIA H100 80GB HBM3"
  ArchInfo arch;     ///< compute capability, SM count, shared memory and register budgets, L2
};

/// The current device, or nullopt when there is no usable GPU (no driver, no device).
std::optional<DeviceInfo> current_device();

/// Whether a GPU can be used by this process.
bool gpu_available();

}  // namespace qla::cuda
