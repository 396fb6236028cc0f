// The CUDA driver API, reached only through cudaGetDriverEntryPointByVersion: binaries never link
// libcuda, so they start on machines without a GPU driver (CI). Types come from <cuda.h> (a header,
// no library).
#pragma once

#include <cuda.h>

#include <cstddef>

#include "qla/error.hpp"

namespace qla::cuda {

/// Driver entry points used by qla. Loaded once per process on first use (which needs a driver).
struct DriverApi {
  CUresult (*cuGetErrorString)(CUresult, const char**) = nullptr;
  CUresult (*cuModuleLoadData)(CUmodule*, const void*) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*) = nullptr;
  CUresult (*cuFuncSetAttribute)(CUfunction, CUfunction_attribute, int) = nullptr;
  CUresult (*cuFuncGetAttribute)(int*, CUfunction_attribute, CUfunction) = nullptr;
  CUresult (*cuOccupancyMaxActiveBlocksPerMultiprocessor)(int*, CUfunction, int,
                                                          std::size_t) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void**, void**) = nullptr;
  /// Launch with a config (cluster dimensions, launch attributes).
  CUresult (*cuLaunchKernelEx)(const CUlaunchConfig*, CUfunction, void**, void**) = nullptr;
  /// Offset and size of a kernel parameter (driver 12.4+); null where the driver predates it.
  CUresult (*cuFuncGetParamInfo)(CUfunction, std::size_t, std::size_t*, std::size_t*) = nullptr;
  /// For TMA descriptors (cuTensorMapEncodeTiled); null where the driver predates it.
  CUresult (*cuTensorMapEncodeTiled)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
                                     const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                     const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                     CUtensorMapL2promotion, CUtensorMapFloatOOBfill) = nullptr;
};

/// The process-wide entry points; throws ApiError when the driver or an entry point is missing.
const DriverApi& driver();

/// Throws ApiError with the driver's message when rc is not CUDA_SUCCESS.
void check_driver(CUresult rc, const char* file, int line, const char* call);

}  // namespace qla::cuda

#define QLA_CU_CHECK(call) ::qla::cuda::check_driver((call), __FILE__, __LINE__, #call)
