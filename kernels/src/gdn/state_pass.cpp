// Host side of state_pass: its space, specs, launch shapes and checks.
#include "qla/gdn/state_pass.hpp"

#include <string>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"
#include "qla/gdn/fused_fwd.hpp"

namespace qla::gdn {

bool StatePassFamily::buildable(const Config& c, const ArchInfo& arch) {
  return state_pass_smem_bytes(c) <= static_cast<std::size_t>(arch.smem_per_block_optin);
}

std::vector<cuda::KernelSpec> StatePassFamily::specs(const Config& c) {
  std::vector<cuda::KernelSpec> out;
  for (DType qkv : {DType::kBF16, DType::kF16}) out.push_back(state_pass_spec(c, qkv, DType::kF32));
  return out;
}

std::vector<cuda::KernelSpec> StatePassFamily::deploy_specs(const Config& c, const Problem& p) {
  return {state_pass_spec(c, p.qkv_dtype, p.beta_dtype)};
}

std::size_t state_pass_smem_bytes(const StatePassConfig& c) {
  return static_cast<std::size_t>(state_pass_layout(c.chunk, c.stages, c.block_v).bytes);
}

cuda::KernelSpec state_pass_spec(const StatePassConfig& c, DType qkv, DType beta) {
  return {"gdn/state_pass.cuh",
          "qla::gdn::state_pass_kernel<" + std::to_string(c.chunk) + ", " +
              std::to_string(c.stages) + ", " + std::to_string(c.warps) + ", " +
              std::to_string(c.block_v) + ", " + detail::qkv_type_name(qkv) + ", " +
              detail::beta_type_name(qkv, beta) + ">",
          cuda::params_layout<StatePassParams>()};
}

cuda::LaunchShape state_pass_shape(const StatePassConfig& c, int num_sequences, int heads_v,
                                   bool with_m) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(num_sequences * heads_v),
            static_cast<unsigned>(state_pass_slices(c.block_v, with_m)), 1};
  s.block = {static_cast<unsigned>(32 * c.warps), 1, 1};
  s.dynamic_smem = state_pass_smem_bytes(c);
  return s;
}

std::string can_implement(const Problem& p, const StatePassConfig& c) {
  if (!state_pass_space().contains(c.to_point())) return "config is not a point of gdn.state_pass";
  return detail::fused_family_can_implement(p, "state_pass");
}

std::string check_params(const StatePassParams& p) {
  for (auto [t, name] : {std::pair{&p.k, "k"}, {&p.v, "v"}, {&p.a, "A_r"}})
    if (auto why = detail::check_rows16(*t, name); !why.empty()) return "state_pass: " + why;
  if (!p.ht) return "state_pass: ht (the output state) is required";
  if (p.heads_v <= 0 || p.group <= 0 || p.heads_v % p.group != 0)
    return "state_pass: bad head counts";
  return {};
}

namespace {
const bool kRegistered = cuda::register_family<StatePassFamily>();
}  // namespace

}  // namespace qla::gdn
