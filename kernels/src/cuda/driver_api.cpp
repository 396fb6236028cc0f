#include "qla/cuda/driver_api.hpp"

#include <cuda_runtime_api.h>

#include <mutex>
#include <string>

#include "qla/cuda/check.hpp"

namespace qla::cuda {
namespace {

// The ABI version we ask each symbol for: 12.0 unless named (each exists with this signature since
// then).
constexpr unsigned kDriverAbiVersion = 12000;

template <typename Fn>
void load(Fn& fn, const char* symbol, bool required, unsigned version = kDriverAbiVersion) {
  void* ptr = nullptr;
  cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
  const cudaError_t rc =
      cudaGetDriverEntryPointByVersion(symbol, &ptr, version, cudaEnableDefault, &status);
  if (rc != cudaSuccess || status != cudaDriverEntryPointSuccess || ptr == nullptr) {
    if (!required) return;
    raise_api_error(
        "CUDA driver", __FILE__, __LINE__, symbol,
        rc != cudaSuccess ? std::string(cudaGetErrorString(rc)) : "entry point not found");
  }
  fn = reinterpret_cast<Fn>(ptr);
}

}  // namespace

const DriverApi& driver() {
  static DriverApi api;
  static std::once_flag once;
  std::call_once(once, [] {
    // Initialises the runtime (and the driver) so that the entry points resolve and the primary
    // context exists.
    QLA_CUDA_CHECK(cudaFree(nullptr));
    load(api.cuGetErrorString, "cuGetErrorString", true);
    load(api.cuModuleLoadData, "cuModuleLoadData", true);
    load(api.cuModuleUnload, "cuModuleUnload", true);
    load(api.cuModuleGetFunction, "cuModuleGetFunction", true);
    load(api.cuFuncSetAttribute, "cuFuncSetAttribute", true);
    load(api.cuFuncGetAttribute, "cuFuncGetAttribute", true);
    load(api.cuOccupancyMaxActiveBlocksPerMultiprocessor,
         "cuOccupancyMaxActiveBlocksPerMultiprocessor", true);
    load(api.cuLaunchKernel, "cuLaunchKernel", true);
    load(api.cuLaunchKernelEx, "cuLaunchKernelEx", true);
    load(api.cuFuncGetParamInfo, "cuFuncGetParamInfo", false, 12040);
    load(api.cuTensorMapEncodeTiled, "cuTensorMapEncodeTiled", false);
  });
  return api;
}

void check_driver(CUresult rc, const char* file, int line, const char* call) {
  if (rc == CUDA_SUCCESS) return;
  const char* msg = nullptr;
  if (driver().cuGetErrorString) driver().cuGetErrorString(rc, &msg);
  raise_api_error("CUDA driver", file, line, call,
                  msg ? msg : "error " + std::to_string(static_cast<int>(rc)));
}

}  // namespace qla::cuda
