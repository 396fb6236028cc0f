// Launchable kernels for KernelSpecs: the AOT instantiation when the library has one
// (aot_registry.hpp), else an NVRTC compile for the current device (nvrtc_compiler.hpp) loaded as a
// module. Resolve at plan time (KernelCache::get may compile); Kernel::launch does no host
// synchronisation and no allocation, so it can be captured in a CUDA graph. Every launch goes
// through cudaLaunchKernelEx / cuLaunchKernelEx (cluster dimensions, programmatic dependent launch)
// and checks the Params type against the spec's declared layout.
#pragma once

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/cuda/nvrtc_compiler.hpp"

namespace qla::cuda {

/// Move-only owner of a loaded CUmodule.
class Module {
 public:
  Module() = default;
  /// Loads a cubin image into the current context.
  explicit Module(const std::string& cubin);
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&& o) noexcept : module_(std::exchange(o.module_, nullptr)) {}
  Module& operator=(Module&& o) noexcept;
  ~Module();
  /// The function `lowered_name`; throws ApiError when absent.
  CUfunction function(const std::string& lowered_name) const;
  CUmodule get() const { return module_; }

 private:
  CUmodule module_ = nullptr;
};

/// How a Kernel was obtained.
enum class KernelOrigin { kAot, kJit };

/// One launchable kernel instantiation.
class Kernel {
 public:
  /// An AOT instantiation: `aot_stub` is the address of its __global__ function.
  Kernel(KernelSpec spec, const void* aot_stub);
  /// A JIT-compiled function of a loaded module.
  Kernel(KernelSpec spec, Module module, CUfunction function, ResourceUsage usage);
  /// A kernel without code, for tests of what caches and resolves kernels on machines without a
  /// GPU: every launch returns cudaErrorInvalidDeviceFunction.
  Kernel(KernelSpec spec, ResourceUsage usage);
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  /// Launches with `*params` as the kernel's one by-value argument. Params must have the layout the
  /// spec declares (size and alignment) and `params` its alignment, else ApiError before anything
  /// is launched. Sets the > 48 KB dynamic shared memory opt-in on first need. Throws ApiError on a
  /// launch failure.
  template <typename Params>
  void launch(const LaunchShape& shape, const Params* params, cudaStream_t stream) const {
    launch_checked(shape, params, params_layout<Params>(), stream);
  }

  /// Like launch, but returns the error instead of throwing (for the tuner's launch_error status);
  /// a Params type that does not match the spec is cudaErrorInvalidValue.
  template <typename Params>
  cudaError_t try_launch(const LaunchShape& shape, const Params* params,
                         cudaStream_t stream) const noexcept {
    return try_launch_checked(shape, params, params_layout<Params>(), stream);
  }

  const KernelSpec& spec() const { return spec_; }
  KernelOrigin origin() const { return aot_stub_ ? KernelOrigin::kAot : KernelOrigin::kJit; }
  /// Registers per thread, static smem, spills: from cudaFuncGetAttributes / cuFuncGetAttribute.
  const ResourceUsage& usage() const { return usage_; }
  /// The virtual architecture the code was compiled for, e.g. 90 (cudaFuncAttributes::ptxVersion,
  /// CU_FUNC_ATTRIBUTE_PTX_VERSION); 0 when unknown. Code compiled for an older one and JIT-ed for
  /// this GPU lacks what `#if __CUDA_ARCH__ >= ...` guards (griddepcontrol, say).
  int ptx_version() const { return ptx_version_; }
  /// CTAs of `threads` threads and `dynamic_smem` bytes of dynamic shared memory that one SM holds
  /// at once (the occupancy calculator, after the > 48 KB opt-in): what a persistent grid fills.
  /// 0 for a kernel without code. Throws ApiError when the query fails.
  int resident_ctas_per_sm(int threads, std::size_t dynamic_smem) const;

 private:
  void launch_checked(const LaunchShape& shape, const void* params, ParamsLayout layout,
                      cudaStream_t stream) const;
  cudaError_t try_launch_checked(const LaunchShape& shape, const void* params, ParamsLayout layout,
                                 cudaStream_t stream) const noexcept;
  /// The launch itself, once the Params were checked.
  cudaError_t launch_unchecked(const LaunchShape& shape, const void* params,
                               cudaStream_t stream) const noexcept;
  /// Empty when a Params of `layout` at `params` may be passed to this kernel, else why not.
  std::string params_mismatch(const void* params, ParamsLayout layout) const;
  cudaError_t ensure_smem(std::size_t bytes) const noexcept;
  /// Checks the spec's declared Params size against the compiled function's parameter (where the
  /// driver can say: cuFuncGetParamInfo, 12.4+). Throws ApiError on a mismatch.
  void verify_params(CUfunction f) const;

  KernelSpec spec_;
  const void* aot_stub_ = nullptr;
  Module module_;
  CUfunction function_ = nullptr;
  ResourceUsage usage_;
  int ptx_version_ = 0;
  mutable std::atomic<std::size_t> smem_opt_in_{48 *
                                                1024};  ///< dynamic smem the attribute allows now
};

/// Process-wide cache of resolved kernels, one entry per (device, spec): a module loaded on one GPU
/// is never launched on another, and each device gets its own shared-memory opt-in. Thread-safe.
class KernelCache {
 public:
  /// Makes the Kernel of `spec` for device `device` (the current device when called).
  using Resolver =
      std::function<std::unique_ptr<Kernel>(const KernelSpec& spec, int device, bool allow_aot)>;
  /// The current device ordinal.
  using DeviceQuery = std::function<int()>;

  /// The cache every launch path uses: AOT stubs from the registry, else NVRTC through
  /// jit_compiler().
  static KernelCache& global();

  /// A cache over another resolver and device query (tests; the global one resolves real kernels).
  KernelCache(Resolver resolve, DeviceQuery current_device);

  /// The kernel for `spec` on the current device: AOT when registered and `allow_aot`, else
  /// compiled with NVRTC for that device. The reference stays valid for the life of the cache.
  /// Throws CompileError or ApiError.
  const Kernel& get(const KernelSpec& spec, bool allow_aot = true);

  /// Kernels held, over all devices.
  std::size_t size() const;

 private:
  /// (device ordinal, source, AOT allowed, name expression without whitespace)
  using Key = std::tuple<int, std::string, bool, std::string>;

  Resolver resolve_;
  DeviceQuery current_device_;
  mutable std::mutex mutex_;
  std::map<Key, std::unique_ptr<Kernel>> kernels_;
};

}  // namespace qla::cuda
