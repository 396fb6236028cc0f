#include "qla/cuda/launcher.hpp"

#include <atomic>
#include <cctype>

#include "qla/cuda/aot_registry.hpp"
#include "qla/cuda/check.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/cuda/driver_api.hpp"

namespace qla::cuda {
namespace {

std::string strip_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(c);
  }
  return out;
}

cudaError_t to_runtime_error(CUresult rc) {
  // The runtime and driver share the numbering of the launch errors that matter here.
  return rc == CUDA_SUCCESS ? cudaSuccess : static_cast<cudaError_t>(rc);
}

}  // namespace

Module::Module(const std::string& cubin) { QLA_CU_CHECK(driver().cuModuleLoadData(&module_, cubin.data())); }

Module& Module::operator=(Module&& o) noexcept {
  if (this != &o) {
    if (module_) driver().cuModuleUnload(module_);
    module_ = std::exchange(o.module_, nullptr);
  }
  return *this;
}

Module::~Module() {
  // Unloading after the context is gone (process exit) fails harmlessly; nothing to report from a destructor.
  if (module_) driver().cuModuleUnload(module_);
}

CUfunction Module::function(const std::string& lowered_name) const {
  CUfunction f = nullptr;
  QLA_CU_CHECK(driver().cuModuleGetFunction(&f, module_, lowered_name.c_str()));
  return f;
}

Kernel::Kernel(KernelSpec spec, const void* aot_stub) : spec_(std::move(spec)), aot_stub_(aot_stub) {
  cudaFuncAttributes attr{};
  QLA_CUDA_CHECK(cudaFuncGetAttributes(&attr, aot_stub_));
  usage_.registers = attr.numRegs;
  usage_.static_smem = static_cast<int>(attr.sharedSizeBytes);
  usage_.stack_frame = static_cast<int>(attr.localSizeBytes);
}

Kernel::Kernel(KernelSpec spec, Module module, CUfunction function, ResourceUsage usage)
    : spec_(std::move(spec)), module_(std::move(module)), function_(function), usage_(usage) {
  int regs = 0;
  if (driver().cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, function_) == CUDA_SUCCESS) {
    usage_.registers = regs;
  }
}

cudaError_t Kernel::ensure_smem(std::size_t bytes) const noexcept {
  if (bytes <= smem_opt_in_.load(std::memory_order_acquire)) return cudaSuccess;
  cudaError_t rc;
  if (aot_stub_) {
    rc = cudaFuncSetAttribute(aot_stub_, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
  } else {
    rc = to_runtime_error(driver().cuFuncSetAttribute(
        function_, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(bytes)));
  }
  if (rc == cudaSuccess) {
    std::size_t cur = smem_opt_in_.load();
    while (cur < bytes && !smem_opt_in_.compare_exchange_weak(cur, bytes)) {
    }
  }
  return rc;
}

cudaError_t Kernel::try_launch(const LaunchShape& shape, const void* params, cudaStream_t stream) const noexcept {
  if (cudaError_t rc = ensure_smem(shape.dynamic_smem); rc != cudaSuccess) return rc;
  void* args[] = {const_cast<void*>(params)};
  if (aot_stub_) {
    const dim3 grid(shape.grid[0], shape.grid[1], shape.grid[2]);
    const dim3 block(shape.block[0], shape.block[1], shape.block[2]);
    return cudaLaunchKernel(aot_stub_, grid, block, args, shape.dynamic_smem, stream);
  }
  return to_runtime_error(driver().cuLaunchKernel(
      function_, shape.grid[0], shape.grid[1], shape.grid[2], shape.block[0], shape.block[1], shape.block[2],
      static_cast<unsigned>(shape.dynamic_smem), reinterpret_cast<CUstream>(stream), args, nullptr));
}

void Kernel::launch(const LaunchShape& shape, const void* params, cudaStream_t stream) const {
  const cudaError_t rc = try_launch(shape, params, stream);
  if (rc != cudaSuccess) {
    raise_api_error("CUDA", __FILE__, __LINE__, ("launch " + spec_.name_expression).c_str(),
                    std::string(cudaGetErrorName(rc)) + ": " + cudaGetErrorString(rc));
  }
}

namespace {
std::atomic<JitCompiler>& jit_slot() {
  static std::atomic<JitCompiler> slot{nullptr};
  return slot;
}
}  // namespace

void set_jit_compiler(JitCompiler compiler) { jit_slot().store(compiler); }
JitCompiler jit_compiler() { return jit_slot().load(); }

KernelCache& KernelCache::global() {
  static KernelCache cache;
  return cache;
}

const Kernel& KernelCache::get(const KernelSpec& spec, bool allow_aot) {
  const auto key = std::make_pair(spec.source + (allow_aot ? "" : "#jit"), strip_spaces(spec.name_expression));
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = kernels_.find(key); it != kernels_.end()) return *it->second;
  std::unique_ptr<Kernel> kernel;
  if (const void* stub = allow_aot ? find_aot_kernel(spec.source, spec.name_expression) : nullptr) {
    kernel = std::make_unique<Kernel>(spec, stub);
  } else {
    const auto device = current_device();
    if (!device) raise_api_error("CUDA", __FILE__, __LINE__, "current_device()", "no GPU to compile for");
    (void)driver();  // initialises the context before loading
    const JitCompiler jit = jit_compiler();
    if (!jit) {
      raise_api_error("qla", __FILE__, __LINE__, ("launch " + spec.name_expression).c_str(),
                      "this instantiation was not compiled ahead of time and the binary has no JIT compiler "
                      "(link qla::kernels instead of qla::kernels_aot, or add the config to the AOT list)");
    }
    CompiledKernel compiled = jit(spec, device->arch);
    Module module(compiled.cubin);
    CUfunction f = module.function(compiled.lowered_name);
    kernel = std::make_unique<Kernel>(spec, std::move(module), f, compiled.usage);
  }
  return *kernels_.emplace(key, std::move(kernel)).first->second;
}

}  // namespace qla::cuda
