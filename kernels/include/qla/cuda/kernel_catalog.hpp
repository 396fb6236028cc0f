// Every kernel family of the library, with its configuration space, the op role it fills, its
// variant, the instantiations each point needs and the points built ahead of time. Families
// register themselves from their host .cpp (register_family<F>() from the family's declaration,
// qla/family.hpp; a static initialiser in a library linked whole), so the NVRTC compile test, the
// AOT generator, the tuner, the header generator and the bench enumerate the same list without
// naming each family.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/family.hpp"
#include "qla/space.hpp"

namespace qla::cuda {

/// One kernel family as the catalog lists it.
struct KernelFamily {
  const SpaceDecl* space = nullptr;  ///< its declaration (space->kernel is the family id)
  /// The KernelSpecs a point compiles to, one per supported dtype combination (bf16/fp16, ...).
  std::function<std::vector<KernelSpec>(const Point&)> specs;
  std::string role;        ///< the op role it can fill, e.g. "chunk_fwd"
  std::string variant;     ///< its mechanism, e.g. "mma", "ws", "wgmma"
  std::vector<Point> aot;  ///< points nvcc builds into the library (the default first)
};

/// Adds a family; returns true so it can initialise a static.
bool register_kernel_family(KernelFamily family);

/// Adds the family declared by trait F (qla/family.hpp).
template <typename F>
bool register_family() {
  KernelFamily f;
  f.space = &space_of<F>();
  f.specs = [](const Point& p) { return F::specs(from_point<F>(p)); };
  f.role = F::kRole;
  f.variant = F::kVariant;
  for (const auto& c : F::kAot) f.aot.push_back(to_point<F>(c));
  return register_kernel_family(std::move(f));
}

/// The registered family of id `kernel`, or nullptr.
const KernelFamily* find_kernel_family(const std::string& kernel);

/// Every registered family, sorted by id.
std::vector<KernelFamily> kernel_families();

}  // namespace qla::cuda
