// Every kernel family of the library, with its configuration space and the instantiations each point needs.
// Families register themselves from their host .cpp (static initialiser; qla_kernels is linked whole), so the
// NVRTC compile test, the tuner and the bench enumerate the same list without naming each family.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/space.hpp"

namespace qla::cuda {

/// One kernel family as the catalog lists it.
struct KernelFamily {
  const SpaceDecl* space = nullptr;  ///< its declaration (space->kernel is the family id)
  /// The KernelSpecs a point compiles to, one per supported dtype combination (bf16/fp16, ...).
  std::function<std::vector<KernelSpec>(const Point&)> specs;
};

/// Adds a family; returns true so it can initialise a static.
bool register_kernel_family(KernelFamily family);

/// Every registered family, sorted by id.
std::vector<KernelFamily> kernel_families();

}  // namespace qla::cuda
