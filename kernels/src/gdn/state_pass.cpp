// Host side of state_pass: its space, specs, launch shapes and checks.
#include "qla/gdn/state_pass.hpp"

#include <string>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"
#include "qla/gdn/fused_fwd.hpp"

namespace qla::gdn {

static_assert(state_pass_in_space(StatePassConfig{}.chunk, StatePassConfig{}.stages, StatePassConfig{}.warps),
              "the default config must lie in the declared axes");

StatePassConfig StatePassConfig::from_point(const Point& p) {
  QLA_REQUIRE(state_pass_space().contains(p), "not a point of " << state_pass_space().kernel);
  return {p[0], p[1], p[2]};
}

const SpaceDecl& state_pass_space() {
  static const SpaceDecl space = [] {
    SpaceDecl s;
    s.kernel = "gdn.state_pass";
    s.axes = {
        {"chunk", "c", detail::axis_values(kStatePassChunkValues), "tokens per chunk C"},
        {"stages", "s", detail::axis_values(kStatePassStagesValues),
         "cp.async input ring depth (the M instantiation runs 1)"},
        {"warps", "w", detail::axis_values(kStatePassWarpsValues), "warps per CTA"},
    };
    s.default_point = StatePassConfig{}.to_point();
    s.buildable = [](const Point& p, const ArchInfo& arch) {
      const StatePassConfig c{p[0], p[1], p[2]};
      return state_pass_smem_bytes(c, true) <= static_cast<std::size_t>(arch.smem_per_block_optin) &&
             state_pass_smem_bytes(c, false) <= static_cast<std::size_t>(arch.smem_per_block_optin);
    };
    return s;
  }();
  return space;
}

std::size_t state_pass_smem_bytes(const StatePassConfig& c, bool with_m) {
  return static_cast<std::size_t>(state_pass_layout(c.chunk, c.stages, with_m).bytes);
}

cuda::KernelSpec state_pass_spec(const StatePassConfig& c, DType qkv, DType beta, bool with_m) {
  return {"gdn/state_pass.cuh", "qla::gdn::state_pass_kernel<" + std::to_string(c.chunk) + ", " +
                                    std::to_string(c.stages) + ", " + std::to_string(c.warps) + ", " +
                                    (with_m ? "true" : "false") + ", " + detail::qkv_type_name(qkv) + ", " +
                                    detail::beta_type_name(qkv, beta) + ">",
          cuda::params_layout<StatePassParams>()};
}

cuda::LaunchShape state_pass_shape(const StatePassConfig& c, int num_sequences, int heads_v, bool with_m) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(num_sequences * heads_v), 1, 1};
  s.block = {static_cast<unsigned>(32 * c.warps), 1, 1};
  s.dynamic_smem = state_pass_smem_bytes(c, with_m);
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
  if (p.heads_v <= 0 || p.group <= 0 || p.heads_v % p.group != 0) return "state_pass: bad head counts";
  return {};
}

namespace {
const bool kRegistered = cuda::register_kernel_family(
    {&state_pass_space(), [](const Point& pt) {
       const auto c = StatePassConfig::from_point(pt);
       return std::vector<cuda::KernelSpec>{state_pass_spec(c, DType::kBF16, DType::kF32, false),
                                            state_pass_spec(c, DType::kBF16, DType::kF32, true),
                                            state_pass_spec(c, DType::kF16, DType::kF32, true)};
     }});
}  // namespace

}  // namespace qla::gdn
