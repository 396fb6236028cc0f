// Host side of kkt_solve: its space, specs, launch shapes and checks.
#include "qla/gdn/kkt_solve.hpp"

#include <algorithm>
#include <string>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"
#include "qla/gdn/fused_fwd.hpp"

namespace qla::gdn {

bool KktSolveFamily::buildable(const Config& c, const ArchInfo& arch) {
  return c.block <= c.chunk && (c.block == 16 || c.warps >= 4) &&
         kkt_solve_smem_bytes(c) <= static_cast<std::size_t>(arch.smem_per_block_optin);
}

std::vector<cuda::KernelSpec> KktSolveFamily::specs(const Config& c) {
  return {kkt_solve_spec(c, DType::kBF16, DType::kF32),
          kkt_solve_spec(c, DType::kF16, DType::kF32)};
}

std::vector<cuda::KernelSpec> KktSolveFamily::deploy_specs(const Config& c, const Problem& p) {
  return {kkt_solve_spec(c, p.qkv_dtype, p.beta_dtype)};
}

std::size_t kkt_solve_smem_bytes(const KktSolveConfig& c) {
  return static_cast<std::size_t>(c.block == 16 ? kkt_rows_layout(c.chunk, c.warps).bytes
                                                : kkt_solve_layout(c.chunk).bytes);
}

cuda::KernelSpec kkt_solve_spec(const KktSolveConfig& c, DType qkv, DType beta) {
  const std::string tail = std::to_string(c.warps) + ", " + detail::qkv_type_name(qkv) + ", " +
                           detail::beta_type_name(qkv, beta) + ", " +
                           (c.per_value_head ? "true" : "false") + ", " +
                           (c.fuse_cumsum ? "true" : "false") + ">";
  if (c.block == 16)  // block rows, a warp per value head
    return {"gdn/kkt_solve_rows.cuh",
            "qla::gdn::kkt_solve_rows_kernel<" + std::to_string(c.chunk) + ", " + tail,
            cuda::params_layout<KktSolveParams>()};
  return {"gdn/kkt_solve.cuh",
          "qla::gdn::kkt_solve_kernel<" + std::to_string(c.chunk) + ", " + std::to_string(c.block) +
              ", " + tail,
          cuda::params_layout<KktSolveParams>()};
}

cuda::LaunchShape kkt_solve_shape(const KktSolveConfig& c, int num_chunks, int heads_qk,
                                  int heads_v, int resident_ctas) {
  const long long items =
      static_cast<long long>(num_chunks) * (c.per_value_head ? heads_v : heads_qk);
  const long long resident = c.block == 16 && resident_ctas > 0 ? resident_ctas : items;
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(std::min(items, resident)), 1, 1};
  s.block = {static_cast<unsigned>(32 * c.warps), 1, 1};
  s.dynamic_smem = kkt_solve_smem_bytes(c);
  return s;
}

std::string can_implement(const Problem& p, const KktSolveConfig& c) {
  if (!kkt_solve_space().contains(c.to_point())) return "config is not a point of gdn.kkt_solve";
  if (c.block > c.chunk) return "kkt_solve: inversion block larger than the chunk";
  if (c.fuse_cumsum && p.gate_dtype != DType::kF32 && p.gate_dtype != DType::kBF16)
    return "kkt_solve with the gate's cumsum fused needs fp32 or bf16 g";
  return detail::fused_family_can_implement(p, "kkt_solve");
}

Point untuned_kkt_solve_point(const Problem& p) {
  KktSolveConfig c;
  c.fuse_cumsum = p.gate_dtype == DType::kF32 || p.gate_dtype == DType::kBF16 ? 1 : 0;
  const int group = p.h_qk > 0 ? p.h_v / p.h_qk : 0;
  if (group == 1 || group == 2) c.warps = group;
  return c.to_point();
}

std::string check_params(const KktSolveParams& p) {
  for (auto [t, name] : {std::pair{&p.k, "k"}, {&p.a, "A_r"}})
    if (auto why = detail::check_rows16(*t, name); !why.empty()) return "kkt_solve: " + why;
  if (p.heads_v <= 0 || p.group <= 0 || p.heads_v % p.group != 0)
    return "kkt_solve: bad head counts";
  return {};
}

namespace {
const bool kRegistered = cuda::register_family<KktSolveFamily>();
}  // namespace

}  // namespace qla::gdn
