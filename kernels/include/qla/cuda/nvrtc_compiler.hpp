// NVRTC compilation of a KernelSpec for an arch, with a disk cache of the cubins.
//
// The program is `#include "<spec.source>"` with every embedded file (embedded_sources.hpp) handed
// to NVRTC as a header, so no source tree is needed. Resource usage is parsed from ptxas' verbose
// log, which needs no GPU. Cache key: FNV-1a 64 of (source hash incl. includes, name expression,
// arch, NVRTC version, flags); files
// `<key>.cubin` and `<key>.meta` under $QLA_CACHE_DIR, else ~/.cache/qla (written atomically by
// rename).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/space.hpp"

namespace qla::cuda {

/// Per-thread and per-block resources of one compiled kernel, from ptxas (-1 = unknown).
struct ResourceUsage {
  int registers = -1;     ///< registers per thread
  int static_smem = -1;   ///< bytes of static shared memory per block
  int spill_stores = -1;  ///< bytes
  int spill_loads = -1;   ///< bytes
  int stack_frame = -1;   ///< bytes per thread
  /// ptxas' performance notes on warpgroup MMA (C75xx: wgmma serialised, a warpgroup wait
  /// injected); on Hopper kernels they are defects
  int wgmma_notes = -1;
};

/// A compiled kernel: the cubin and how to find the kernel in it.
struct CompiledKernel {
  std::string cubin;         ///< ELF image for cuModuleLoadData
  std::string lowered_name;  ///< mangled name of the instantiation
  std::string log;           ///< NVRTC/ptxas log (empty when loaded from the cache)
  ResourceUsage usage;
  bool from_cache = false;
  std::uint64_t key = 0;  ///< the cache key
};

/// NVRTC rejected the program. what() is a one-line summary; log() the full compiler output.
class CompileError : public std::runtime_error {
 public:
  CompileError(const std::string& what, std::string log)
      : std::runtime_error(what), log_(std::move(log)) {}
  const std::string& log() const noexcept { return log_; }

 private:
  std::string log_;
};

/// Options of one compile.
struct CompileOptions {
  std::vector<std::string> extra_flags;  ///< appended to qla's flags (and to the cache key)
  bool use_cache = true;                 ///< read and write the disk cache
};

/// Compiles `spec` for `arch` (e.g. sm_90a), or loads it from the cache. Thread-safe; several
/// threads may compile different specs at once. Throws CompileError (bad source) or ApiError (NVRTC
/// failure).
CompiledKernel compile_kernel(const KernelSpec& spec, const ArchInfo& arch,
                              const CompileOptions& options = {});

/// How the launcher (KernelCache) compiles a spec that was not built ahead of time. The JIT library
/// (qla_kernels_jit, this header's implementation) installs compile_kernel at start-up; an AOT-only
/// deployment (qla::kernels_aot) links no NVRTC, leaves it null, and can only launch what was
/// compiled ahead of time.
using JitCompiler = CompiledKernel (*)(const KernelSpec& spec, const ArchInfo& arch);
void set_jit_compiler(JitCompiler compiler);
/// The installed JIT compiler, or nullptr.
JitCompiler jit_compiler();

/// NVRTC's version as major * 1000 + minor * 10 (13.0 → 13000).
int nvrtc_version();

/// The directory holding cuda_bf16.h that NVRTC is pointed at; throws ApiError when none is found.
const std::string& cuda_include_dir();

/// The cubin cache directory (created on demand).
std::string cache_dir();

/// Parses ptxas' `-v` output (registers, smem, spills, stack frame, wgmma notes); fields not found
/// stay -1.
ResourceUsage parse_ptxas_log(const std::string& log);

}  // namespace qla::cuda
