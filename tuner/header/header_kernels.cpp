// The GDN kernel families `qla header` covers: the op plan, then every family of the catalog whose
// declaration says the header serves it (kDeployOrder, kDeployHeader, kDeployTrait, deploy_specs in
// the family's trait), so a new family or variant reaches the header from its own header alone.
// Kept apart from the generator so the generator itself knows no kernel.
#include <algorithm>

#include "header_generator.hpp"
#include "qla/cuda/aot_registry.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/gdn/plan.hpp"

namespace qla::tuner {
namespace {

// The instantiations the kernel library does not already build ahead of time (its AOT registry: the
// defaults and, for fused_fwd, the untuned op's points): a second instantiation in the deployment's
// unit would only register twice.
std::vector<cuda::KernelSpec> not_built_ahead(const std::vector<cuda::KernelSpec>& mine) {
  std::vector<cuda::KernelSpec> out;
  for (const auto& s : mine)
    if (cuda::find_aot_kernel(s.source, s.name_expression) == nullptr) out.push_back(s);
  return out;
}

// Tuned rows only exist for problems the kernels can run, but a store may hold others (a fake or
// future dtype): those need no instantiation of ours.
bool fused_dtypes(const gdn::Problem& p) {
  return (p.qkv_dtype == DType::kBF16 || p.qkv_dtype == DType::kF16) &&
         (p.beta_dtype == DType::kF32 || p.beta_dtype == p.qkv_dtype);
}

}  // namespace

std::vector<HeaderKernel> gdn_header_kernels() {
  std::vector<HeaderKernel> k;
  // The op plan first: its chunk size is the one the chunk-sharing kernels' rows must agree with,
  // and its variant names the chunk-forward family. Runtime knobs only: nothing to instantiate.
  k.push_back({&gdn::fwd_plan_space(),
               "fwd_plan",
               "qla/gdn/plan.hpp",
               "qla::in_space_values<qla::gdn::FwdPlanFamily>",
               {},
               true});
  // Then every family whose declaration says the header serves it (kDeployOrder), in that order:
  // every variant of the chunk-forward role (the plan's variant picks one), the UT prep, the CP
  // state pass, the unfused baseline.
  std::vector<cuda::KernelFamily> served;
  for (const cuda::KernelFamily& f : cuda::kernel_families())
    if (f.deploy_order > 0) served.push_back(f);
  std::sort(served.begin(), served.end(),
            [](const auto& a, const auto& b) { return a.deploy_order < b.deploy_order; });
  for (const cuda::KernelFamily& f : served) {
    const std::string id = f.space->kernel;
    HeaderKernel h;
    h.space = f.space;
    h.name = id.substr(id.find('.') + 1);  // "gdn.fused_fwd" → "fused_fwd"
    h.include = f.deploy_header;
    h.in_space = "qla::in_space_values<" + f.deploy_trait + ">";
    if (f.deploy_specs) {
      h.aot_specs = [specs = f.deploy_specs](const Point& v, const gdn::Problem& p) {
        // Rows exist only for problems the kernels run, but a store may hold others (a fake or
        // future dtype): those need no instantiation of ours.
        if (!fused_dtypes(p)) return std::vector<cuda::KernelSpec>{};
        return not_built_ahead(specs(v, p));
      };
    }
    h.shares_chunk =
        std::find(std::begin(gdn::kChunkSharingKernels), std::end(gdn::kChunkSharingKernels), id) !=
        std::end(gdn::kChunkSharingKernels);
    k.push_back(std::move(h));
  }
  return k;
}

}  // namespace qla::tuner
