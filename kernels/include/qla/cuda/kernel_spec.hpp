// How every qla kernel is described to the code that compiles and launches it. Plain C++17 (no CUDA
// includes): the tuner, the tests and the generated header read it too.
//
// A device kernel is a `__global__` function template in a `.cuh` under kernels/device/. It takes
// exactly one argument, a trivially-copyable `Params` struct passed by value (pointers, strides,
// sizes); its compile-time configuration is its template arguments. The same text is compiled two
// ways:
//   * AOT: a `.cu` unit explicitly instantiates the default configs and registers their host stubs
//   under their
//     name expression (see aot_registry.hpp); launched with cudaLaunchKernel.
//   * JIT: NVRTC compiles the embedded source for the present GPU with the name expression added
//     (nvrtcAddNameExpression), the cubin is cached on disk, and the function is launched through
//     the driver API reached with cudaGetDriverEntryPointByVersion (never linked).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace qla::cuda {

/// A grid launch: grid, block and cluster extents, dynamic shared memory, and launch attributes.
/// Launched through cudaLaunchKernelEx / cuLaunchKernelEx, so every attribute below reaches AOT and
/// JIT kernels alike.
struct LaunchShape {
  std::array<unsigned, 3> grid{1, 1, 1};   ///< blocks; each extent a multiple of the cluster's
  std::array<unsigned, 3> block{1, 1, 1};  ///< threads
  std::size_t dynamic_smem = 0;  ///< bytes; > 48 KB needs the opt-in attribute, set by the launcher
  std::array<unsigned, 3> cluster{
      1, 1, 1};  ///< thread-block cluster (sm_90+); {1, 1, 1} = no cluster attribute
  /// Programmatic dependent launch: this kernel may start while the previous kernel of its stream
  /// runs, and must wait (griddepcontrol.wait) before it reads that kernel's outputs. sm_90+.
  bool programmatic_dependent_launch = false;

  bool has_cluster() const { return cluster[0] * cluster[1] * cluster[2] != 1; }
};

/// The size and alignment of a kernel's one by-value `Params` argument, checked at every launch.
struct ParamsLayout {
  std::size_t size = 0;   ///< bytes; 0 = not declared (the launch boundary refuses such a spec)
  std::size_t align = 0;  ///< bytes
  friend bool operator==(const ParamsLayout& a, const ParamsLayout& b) {
    return a.size == b.size && a.align == b.align;
  }
  friend bool operator!=(const ParamsLayout& a, const ParamsLayout& b) { return !(a == b); }
};

/// The layout of `Params`; kernels take their parameters as one trivially copyable struct.
template <typename Params>
constexpr ParamsLayout params_layout() {
  static_assert(std::is_trivially_copyable_v<Params>, "kernel Params must be trivially copyable");
  static_assert(!std::is_pointer_v<Params>, "pass the Params struct, not a pointer type");
  return {sizeof(Params), alignof(Params)};
}

/// One instantiation of a device kernel template.
struct KernelSpec {
  std::string
      source;  ///< embedded device source, path under kernels/device, e.g. "gdn/naive_fwd.cuh"
  std::string name_expression;  ///< e.g. "qla::gdn::naive_fwd_kernel<64, __nv_bfloat16>"
  ParamsLayout params{};        ///< its Params argument (params_layout<NaiveFwdParams>())
};

}  // namespace qla::cuda
