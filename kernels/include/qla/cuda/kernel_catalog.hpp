// Every kernel family of the library, with its configuration space, the op role it fills, its
// variant, the instantiations each point needs and the points built ahead of time. Families
// register themselves from their host .cpp (register_family<F>() from the family's declaration,
// qla/family.hpp; a static initialiser in a library linked whole), so the NVRTC compile test, the
// AOT generator, the tuner, the header generator and the bench enumerate the same list without
// naming each family.
#pragma once

#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/family.hpp"
#include "qla/gdn/problem.hpp"
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
  /// How `qla header` serves the family to a deployment (0 = not served; else its position in the
  /// generated header): the header declaring the trait, the trait's qualified name, and the
  /// instantiations a tuned row for a problem needs (empty function: the AOT set covers every
  /// point). From the trait's optional kDeployOrder / kDeployHeader / kDeployTrait / deploy_specs.
  int deploy_order = 0;
  std::string deploy_header;
  std::string deploy_trait;
  std::function<std::vector<KernelSpec>(const Point&, const gdn::Problem&)> deploy_specs;
};

namespace detail {
template <typename F, typename = void>
struct IsDeployed : std::false_type {};
template <typename F>
struct IsDeployed<F, std::void_t<decltype(F::kDeployOrder)>> : std::true_type {};
template <typename F, typename = void>
struct HasDeploySpecs : std::false_type {};
template <typename F>
struct HasDeploySpecs<
    F, std::void_t<decltype(F::deploy_specs(std::declval<const typename F::Config&>(),
                                            std::declval<const gdn::Problem&>()))>>
    : std::true_type {};
}  // namespace detail

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
  if constexpr (detail::IsDeployed<F>::value) {
    f.deploy_order = F::kDeployOrder;
    f.deploy_header = F::kDeployHeader;
    f.deploy_trait = F::kDeployTrait;
    if constexpr (detail::HasDeploySpecs<F>::value)
      f.deploy_specs = [](const Point& p, const gdn::Problem& problem) {
        return F::deploy_specs(from_point<F>(p), problem);
      };
  }
  return register_kernel_family(std::move(f));
}

/// The registered family of id `kernel`, or nullptr.
const KernelFamily* find_kernel_family(const std::string& kernel);

/// The registered family of id `kernel`; UserError naming every registered id when there is none.
const KernelFamily& kernel_family(const std::string& kernel);

/// Every registered family, sorted by id.
std::vector<KernelFamily> kernel_families();

}  // namespace qla::cuda
