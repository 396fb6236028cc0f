// Launchable kernels for KernelSpecs: the AOT instantiation when the library has one (aot_registry.hpp), else
// an NVRTC compile for the current device (nvrtc_compiler.hpp) loaded as a module. Resolve at plan time
// (KernelCache::get may compile); Kernel::launch does no host synchronisation and no allocation, so it can be
// captured in a CUDA graph.
#pragma once

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
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
  Kernel(KernelSpec spec, const void* aot_stub);
  Kernel(KernelSpec spec, Module module, CUfunction function, ResourceUsage usage);
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  /// Launches with one by-value Params argument at `params` (sizeof must match the kernel's parameter).
  /// Sets the > 48 KB dynamic shared memory opt-in on first need. Throws ApiError on a launch failure.
  void launch(const LaunchShape& shape, const void* params, cudaStream_t stream) const;

  /// Like launch, but returns the error instead of throwing (for the tuner's launch_error status).
  cudaError_t try_launch(const LaunchShape& shape, const void* params, cudaStream_t stream) const noexcept;

  const KernelSpec& spec() const { return spec_; }
  KernelOrigin origin() const { return aot_stub_ ? KernelOrigin::kAot : KernelOrigin::kJit; }
  /// Registers per thread, static smem, spills: from cudaFuncGetAttributes / cuFuncGetAttribute.
  const ResourceUsage& usage() const { return usage_; }

 private:
  cudaError_t ensure_smem(std::size_t bytes) const noexcept;

  KernelSpec spec_;
  const void* aot_stub_ = nullptr;
  Module module_;
  CUfunction function_ = nullptr;
  ResourceUsage usage_;
  mutable std::atomic<std::size_t> smem_opt_in_{48 * 1024};  ///< dynamic smem the attribute allows now
};

/// Process-wide cache of resolved kernels for the current device. Thread-safe.
class KernelCache {
 public:
  static KernelCache& global();

  /// The kernel for `spec`: AOT when registered and `allow_aot`, else compiled with NVRTC for the current
  /// device. The reference stays valid for the life of the process. Throws CompileError or ApiError.
  const Kernel& get(const KernelSpec& spec, bool allow_aot = true);

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Kernel>> kernels_;
};

}  // namespace qla::cuda
