// Host side of gdn.state_pass_wgmma: its declaration, spec, launch shape and params check.
#include "qla/gdn/state_pass_wgmma.hpp"

#include <string>
#include <utility>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"

namespace qla::gdn {

bool StatePassWgmmaFamily::buildable(const Config& c, const ArchInfo& arch) {
  return FusedFwdWgmmaFamily::buildable(c, arch);
}

std::vector<cuda::KernelSpec> StatePassWgmmaFamily::specs(const Config& c) {
  return {state_pass_wgmma_spec(c, DType::kBF16, DType::kF32),
          state_pass_wgmma_spec(c, DType::kF16, DType::kF32)};
}

std::vector<cuda::KernelSpec> StatePassWgmmaFamily::deploy_specs(const Config& c,
                                                                 const Problem& p) {
  return {state_pass_wgmma_spec(c, p.qkv_dtype, p.beta_dtype)};
}

cuda::KernelSpec state_pass_wgmma_spec(const FusedFwdConfig& c, DType qkv, DType beta) {
  QLA_REQUIRE(c.wgmma != 0, "state_pass_wgmma_spec: " << fused_fwd_family_id(c)
                                                      << " has no state-only instantiation");
  return {"gdn/fused_fwd_wgmma.cuh",
          "qla::gdn::fused_fwd_wgmma_kernel<" + std::to_string(c.stages) + ", " +
              detail::qkv_type_name(qkv) + ", " + fused_wgmma_operand_types(c, qkv) + ", " +
              detail::beta_type_name(qkv, beta) + ", qla::cuda::NoProbe, true>",
          cuda::params_layout<FusedFwdWgmmaParams>()};
}

cuda::LaunchShape state_pass_wgmma_shape(const FusedFwdConfig& c, int num_sequences, int heads_v,
                                         bool with_m) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(num_sequences * heads_v), with_m ? 4u : 2u, 1};
  s.block = {384, 1, 1};
  s.dynamic_smem = fused_fwd_smem_bytes(c);
  return s;
}

std::string check_state_pass_wgmma(const FusedFwdWgmmaParams& w, bool with_m) {
  const FusedFwdParams& p = w.f;
  for (auto [t, name] : {std::pair{&p.k, "k"}, {&p.v, "v"}, {&p.a, "A_r"}})
    if (auto why = detail::check_rows16(*t, name); !why.empty())
      return "state_pass (wgmma): " + why;
  if (p.ht == nullptr) return "state_pass (wgmma): ht (the output state) is required";
  if (with_m && w.m == nullptr) return "state_pass (wgmma): m is required to compute M";
  if (w.piece_is_last && (w.num_warmup == nullptr || w.fallback == nullptr))
    return "state_pass (wgmma): the warm-up walk writes num_warmup and fallback; both are required";
  if (p.heads_v <= 0 || p.group <= 0 || p.heads_v % p.group != 0)
    return "state_pass (wgmma): bad head counts";
  return {};
}

namespace {
const bool kRegistered = cuda::register_family<StatePassWgmmaFamily>();
}  // namespace

}  // namespace qla::gdn
