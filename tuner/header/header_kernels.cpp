// The GDN kernel families `qla header` covers, with their constexpr space predicates and the AOT
// instantiations a tuned row needs. Kept apart from the generator so the generator itself knows no
// kernel.
#include <algorithm>

#include "header_generator.hpp"
#include "qla/cuda/aot_registry.hpp"
#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/fused_fwd_wgmma.hpp"
#include "qla/gdn/fused_fwd_ws.hpp"
#include "qla/gdn/kkt_solve.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/gdn/state_pass.hpp"
#include "qla/gdn/unfused.hpp"

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
  // Every variant of the chunk-forward role; the plan's variant picks one.
  auto fused = [](const std::string& id) {
    return [id](const Point& v, const gdn::Problem& p) -> std::vector<cuda::KernelSpec> {
      if (!fused_dtypes(p)) return {};
      return not_built_ahead(
          {gdn::fused_fwd_spec(gdn::fused_fwd_config(id, v), p.qkv_dtype, p.beta_dtype)});
    };
  };
  k.push_back({&gdn::fused_fwd_space(), "fused_fwd", "qla/gdn/fused_fwd.hpp",
               "qla::in_space_values<qla::gdn::FusedFwdFamily>", fused(gdn::FusedFwdFamily::kId),
               true});
  k.push_back({&gdn::fused_fwd_ws_space(), "fused_fwd_ws", "qla/gdn/fused_fwd_ws.hpp",
               "qla::in_space_values<qla::gdn::FusedFwdWsFamily>",
               fused(gdn::FusedFwdWsFamily::kId), true});
  k.push_back({&gdn::fused_fwd_wgmma_space(), "fused_fwd_wgmma", "qla/gdn/fused_fwd_wgmma.hpp",
               "qla::in_space_values<qla::gdn::FusedFwdWgmmaFamily>",
               fused(gdn::FusedFwdWgmmaFamily::kId), true});
  k.push_back({&gdn::kkt_solve_space(), "kkt_solve", "qla/gdn/kkt_solve.hpp",
               "qla::in_space_values<qla::gdn::KktSolveFamily>",
               [](const Point& v, const gdn::Problem& p) -> std::vector<cuda::KernelSpec> {
                 if (!fused_dtypes(p)) return {};
                 return not_built_ahead({gdn::kkt_solve_spec(gdn::KktSolveConfig::from_point(v),
                                                             p.qkv_dtype, p.beta_dtype)});
               },
               true});
  // The plan picks the M-computing instantiation whenever a CP piece may fall back, so both are
  // needed.
  k.push_back({&gdn::state_pass_space(), "state_pass", "qla/gdn/state_pass.hpp",
               "qla::in_space_values<qla::gdn::StatePassFamily>",
               [](const Point& v, const gdn::Problem& p) -> std::vector<cuda::KernelSpec> {
                 if (!fused_dtypes(p)) return {};
                 const auto c = gdn::StatePassConfig::from_point(v);
                 return not_built_ahead({gdn::state_pass_spec(c, p.qkv_dtype, p.beta_dtype, false),
                                         gdn::state_pass_spec(c, p.qkv_dtype, p.beta_dtype, true)});
               },
               true});
  // Every point of the unfused space is compiled into the kernel library (its AOT set): nothing to
  // add.
  k.push_back({&gdn::unfused_space(),
               "unfused",
               "qla/gdn/unfused.hpp",
               "qla::in_space_values<qla::gdn::UnfusedFamily>",
               {},
               false});
  return k;
}

}  // namespace qla::tuner
