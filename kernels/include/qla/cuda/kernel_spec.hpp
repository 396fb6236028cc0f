// How every qla kernel is described to the code that compiles and launches it. Plain C++17 (no CUDA
// includes): the tuner, the tests and the generated header read it too.
//
// A device kernel is a `__global__` function template in a `.cuh` under kernels/device/. It takes exactly one
// argument, a trivially-copyable `Params` struct passed by value (pointers, strides, sizes); its compile-time
// configuration is its template arguments. The same text is compiled two ways:
//   * AOT: a `.cu` unit explicitly instantiates the default configs and registers their host stubs under their
//     name expression (see aot_registry.hpp); launched with cudaLaunchKernel.
//   * JIT: NVRTC compiles the embedded source for the present GPU with the name expression added
//     (nvrtcAddNameExpression), the cubin is cached on disk, and the function is launched through the driver
//     API reached with cudaGetDriverEntryPointByVersion (never linked).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace qla::cuda {

/// A grid launch: grid and block extents and dynamic shared memory in bytes.
struct LaunchShape {
  std::array<unsigned, 3> grid{1, 1, 1};
  std::array<unsigned, 3> block{1, 1, 1};
  std::size_t dynamic_smem = 0;  ///< bytes; > 48 KB needs the opt-in attribute, set by the launcher
};

/// One instantiation of a device kernel template.
struct KernelSpec {
  std::string source;           ///< embedded device source, path under kernels/device, e.g. "gdn/naive_fwd.cuh"
  std::string name_expression;  ///< e.g. "qla::gdn::naive_fwd_kernel<64, __nv_bfloat16>"
};

}  // namespace qla::cuda
