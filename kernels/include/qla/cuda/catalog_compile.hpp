// Every kernel the registered families can build for one target, compiled ahead on host threads by
// NVRTC into its disk cache (no GPU needed): what `qla cache warm` runs on a build machine so a GPU
// machine with the same NVRTC finds every config of a tuning run already compiled, and what the
// NVRTC test checks for sm_90a.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/cuda/nvrtc_compiler.hpp"
#include "qla/space.hpp"

namespace qla::cuda {

/// One instantiation to compile: the first family point (by label) that names it.
struct CatalogJob {
  std::string family;
  std::string label;
  KernelSpec spec;
};

/// What compiling one job gave.
struct CatalogOutcome {
  bool ok = false;
  bool from_cache = false;
  ResourceUsage usage;
  std::string error;  ///< the compile error and its log when !ok
};

/// Each distinct instantiation of every point of the registered families that builds on `arch`, in
/// family order; only the families in `families` when it is non-empty (UserError for an id no
/// family has).
std::vector<CatalogJob> catalog_jobs(const ArchInfo& arch,
                                     const std::vector<std::string>& families = {});

/// Compiles `jobs` for `arch` on `threads` (≥ 1) host threads through the NVRTC disk cache;
/// `progress(done, total)` is called after each job, from one thread at a time.
std::vector<CatalogOutcome> compile_catalog(
    const std::vector<CatalogJob>& jobs, const ArchInfo& arch, int threads,
    const std::function<void(std::size_t, std::size_t)>& progress = {});

}  // namespace qla::cuda
