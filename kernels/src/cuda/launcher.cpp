#include "qla/cuda/launcher.hpp"

#include <atomic>
#include <cctype>
#include <cstdint>

#include "qla/cuda/aot_registry.hpp"
#include "qla/cuda/check.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/cuda/driver_api.hpp"
#include "qla/error.hpp"

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

Module::Module(const std::string& cubin) {
  QLA_CU_CHECK(driver().cuModuleLoadData(&module_, cubin.data()));
}

Module& Module::operator=(Module&& o) noexcept {
  if (this != &o) {
    if (module_) driver().cuModuleUnload(module_);
    module_ = std::exchange(o.module_, nullptr);
  }
  return *this;
}

Module::~Module() {
  // Unloading after the context is gone (process exit) fails harmlessly; nothing to report from a
  // destructor.
  if (module_) driver().cuModuleUnload(module_);
}

CUfunction Module::function(const std::string& lowered_name) const {
  CUfunction f = nullptr;
  QLA_CU_CHECK(driver().cuModuleGetFunction(&f, module_, lowered_name.c_str()));
  return f;
}

Kernel::Kernel(KernelSpec spec, const void* aot_stub)
    : spec_(std::move(spec)), aot_stub_(aot_stub) {
  cudaFuncAttributes attr{};
  QLA_CUDA_CHECK(cudaFuncGetAttributes(&attr, aot_stub_));
  usage_.registers = attr.numRegs;
  usage_.static_smem = static_cast<int>(attr.sharedSizeBytes);
  usage_.stack_frame = static_cast<int>(attr.localSizeBytes);
  ptx_version_ = attr.ptxVersion;
  cudaFunction_t f = nullptr;
  if (cudaGetFuncBySymbol(&f, aot_stub_) == cudaSuccess)
    verify_params(reinterpret_cast<CUfunction>(f));
}

Kernel::Kernel(KernelSpec spec, Module module, CUfunction function, ResourceUsage usage)
    : spec_(std::move(spec)), module_(std::move(module)), function_(function), usage_(usage) {
  int regs = 0;
  if (driver().cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, function_) == CUDA_SUCCESS) {
    usage_.registers = regs;
  }
  int ptx = 0;
  if (driver().cuFuncGetAttribute(&ptx, CU_FUNC_ATTRIBUTE_PTX_VERSION, function_) == CUDA_SUCCESS)
    ptx_version_ = ptx;
  verify_params(function_);
}

Kernel::Kernel(KernelSpec spec, ResourceUsage usage) : spec_(std::move(spec)), usage_(usage) {}

void Kernel::verify_params(CUfunction f) const {
  const auto get_info = driver().cuFuncGetParamInfo;
  if (!get_info || spec_.params.size == 0) return;
  std::size_t offset = 0, size = 0, extra_offset = 0, extra_size = 0;
  if (get_info(f, 0, &offset, &size) != CUDA_SUCCESS) return;
  const bool one_param = get_info(f, 1, &extra_offset, &extra_size) != CUDA_SUCCESS;
  if (size != spec_.params.size || !one_param) {
    raise_api_error("qla", __FILE__, __LINE__, ("load " + spec_.name_expression).c_str(),
                    "the kernel takes " +
                        std::string(one_param ? "" : "more than one parameter, the first of ") +
                        std::to_string(size) + " bytes, but its spec declares one Params of " +
                        std::to_string(spec_.params.size) + " bytes");
  }
}

std::string Kernel::params_mismatch(const void* params, ParamsLayout layout) const {
  if (spec_.params.size == 0) return "its spec declares no Params layout";
  if (layout != spec_.params) {
    return "Params of " + std::to_string(layout.size) + " bytes (alignment " +
           std::to_string(layout.align) + ") passed, the kernel takes " +
           std::to_string(spec_.params.size) + " bytes (alignment " +
           std::to_string(spec_.params.align) + ")";
  }
  if (params == nullptr) return "null Params";
  if (reinterpret_cast<std::uintptr_t>(params) % layout.align != 0)
    return "Params not aligned to its type";
  return {};
}

cudaError_t Kernel::ensure_smem(std::size_t bytes) const noexcept {
  if (bytes <= smem_opt_in_.load(std::memory_order_acquire)) return cudaSuccess;
  cudaError_t rc;
  if (aot_stub_) {
    rc = cudaFuncSetAttribute(aot_stub_, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(bytes));
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

int Kernel::resident_ctas_per_sm(int threads, std::size_t dynamic_smem) const {
  if (!aot_stub_ && !function_) return 0;
  QLA_CUDA_CHECK(ensure_smem(dynamic_smem));
  int ctas = 0;
  if (aot_stub_)
    QLA_CUDA_CHECK(
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&ctas, aot_stub_, threads, dynamic_smem));
  else
    QLA_CU_CHECK(driver().cuOccupancyMaxActiveBlocksPerMultiprocessor(&ctas, function_, threads,
                                                                      dynamic_smem));
  return ctas;
}

cudaError_t Kernel::try_launch_checked(const LaunchShape& shape, const void* params,
                                       ParamsLayout layout, cudaStream_t stream) const noexcept {
  try {
    if (!params_mismatch(params, layout).empty()) return cudaErrorInvalidValue;
  } catch (...) {  // std::bad_alloc from the message
    return cudaErrorMemoryAllocation;
  }
  return launch_unchecked(shape, params, stream);
}

cudaError_t Kernel::launch_unchecked(const LaunchShape& shape, const void* params,
                                     cudaStream_t stream) const noexcept {
  if (!aot_stub_ && !function_) return cudaErrorInvalidDeviceFunction;
  if (cudaError_t rc = ensure_smem(shape.dynamic_smem); rc != cudaSuccess) return rc;
  void* args[] = {const_cast<void*>(params)};
  if (aot_stub_) {
    cudaLaunchAttribute attrs[2] = {};
    unsigned n = 0;
    if (shape.has_cluster()) {
      attrs[n].id = cudaLaunchAttributeClusterDimension;
      attrs[n].val.clusterDim.x = shape.cluster[0];
      attrs[n].val.clusterDim.y = shape.cluster[1];
      attrs[n].val.clusterDim.z = shape.cluster[2];
      ++n;
    }
    if (shape.programmatic_dependent_launch) {
      attrs[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
      attrs[n].val.programmaticStreamSerializationAllowed = 1;
      ++n;
    }
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3(shape.grid[0], shape.grid[1], shape.grid[2]);
    config.blockDim = dim3(shape.block[0], shape.block[1], shape.block[2]);
    config.dynamicSmemBytes = shape.dynamic_smem;
    config.stream = stream;
    config.attrs = n ? attrs : nullptr;
    config.numAttrs = n;
    return cudaLaunchKernelExC(&config, aot_stub_, args);
  }
  CUlaunchAttribute attrs[2] = {};
  unsigned n = 0;
  if (shape.has_cluster()) {
    attrs[n].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attrs[n].value.clusterDim.x = shape.cluster[0];
    attrs[n].value.clusterDim.y = shape.cluster[1];
    attrs[n].value.clusterDim.z = shape.cluster[2];
    ++n;
  }
  if (shape.programmatic_dependent_launch) {
    attrs[n].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attrs[n].value.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  CUlaunchConfig config = {};
  config.gridDimX = shape.grid[0];
  config.gridDimY = shape.grid[1];
  config.gridDimZ = shape.grid[2];
  config.blockDimX = shape.block[0];
  config.blockDimY = shape.block[1];
  config.blockDimZ = shape.block[2];
  config.sharedMemBytes = static_cast<unsigned>(shape.dynamic_smem);
  config.hStream = reinterpret_cast<CUstream>(stream);
  config.attrs = n ? attrs : nullptr;
  config.numAttrs = n;
  return to_runtime_error(driver().cuLaunchKernelEx(&config, function_, args, nullptr));
}

void Kernel::launch_checked(const LaunchShape& shape, const void* params, ParamsLayout layout,
                            cudaStream_t stream) const {
  if (const std::string why = params_mismatch(params, layout); !why.empty()) {
    raise_api_error("qla", __FILE__, __LINE__, ("launch " + spec_.name_expression).c_str(), why);
  }
  const cudaError_t rc = launch_unchecked(shape, params, stream);
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

namespace {

/// The global cache's resolver: the AOT stub when registered (and allowed), else an NVRTC compile
/// for `device`.
std::unique_ptr<Kernel> resolve_kernel(const KernelSpec& spec, int device, bool allow_aot) {
  if (const void* stub = allow_aot ? find_aot_kernel(spec.source, spec.name_expression) : nullptr) {
    return std::make_unique<Kernel>(spec, stub);
  }
  const auto info = current_device();
  if (!info || info->ordinal != device)
    raise_api_error("CUDA", __FILE__, __LINE__, "current_device()", "no GPU to compile for");
  (void)driver();  // initialises the context before loading
  const JitCompiler jit = jit_compiler();
  if (!jit) {
    raise_api_error(
        "qla", __FILE__, __LINE__, ("launch " + spec.name_expression).c_str(),
        "this instantiation was not compiled ahead of time and the binary has no JIT compiler "
        "(link qla::kernels instead of qla::kernels_aot, or add the config to the AOT list)");
  }
  CompiledKernel compiled = jit(spec, info->arch);
  Module module(compiled.cubin);
  CUfunction f = module.function(compiled.lowered_name);
  return std::make_unique<Kernel>(spec, std::move(module), f, compiled.usage);
}

int current_ordinal() {
  int device = 0;
  QLA_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

}  // namespace

KernelCache& KernelCache::global() {
  static KernelCache cache(resolve_kernel, current_ordinal);
  return cache;
}

KernelCache::KernelCache(Resolver resolve, DeviceQuery current_device)
    : resolve_(std::move(resolve)), current_device_(std::move(current_device)) {}

const Kernel& KernelCache::get(const KernelSpec& spec, bool allow_aot) {
  const int device = current_device_();
  Key key{device, spec.source, allow_aot, strip_spaces(spec.name_expression)};
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = kernels_.find(key); it != kernels_.end()) return *it->second;
  std::unique_ptr<Kernel> kernel = resolve_(spec, device, allow_aot);
  if (!kernel)
    raise_api_error("qla", __FILE__, __LINE__, "KernelCache::get",
                    "the resolver returned no kernel");
  return *kernels_.emplace(std::move(key), std::move(kernel)).first->second;
}

std::size_t KernelCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return kernels_.size();
}

}  // namespace qla::cuda
