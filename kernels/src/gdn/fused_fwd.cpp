// Host side of fused_fwd: its space, specs, launch shapes and checks, plus the checks shared with kkt_solve and
// state_pass.
#include "qla/gdn/fused_fwd.hpp"

#include <string>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/cuda/type_names.hpp"
#include "qla/error.hpp"

namespace qla::gdn {
namespace detail {

std::string fused_family_can_implement(const Problem& p, const char* kernel) {
  const std::string k(kernel);
  if (p.k_dim != kFusedHeadDim || p.v_dim != kFusedHeadDim)
    return k + " needs K = V = 128 (got K = " + std::to_string(p.k_dim) + ", V = " + std::to_string(p.v_dim) + ")";
  if (p.qkv_dtype != DType::kBF16 && p.qkv_dtype != DType::kF16)
    return k + " needs bf16 or fp16 q/k/v (got " + std::string(dtype_name(p.qkv_dtype)) + ")";
  if (p.beta_dtype != DType::kF32 && p.beta_dtype != p.qkv_dtype)
    return k + " needs beta in f32 or the q/k/v dtype (got " + std::string(dtype_name(p.beta_dtype)) + ")";
  if (p.gate_dtype != DType::kF32)
    return k + " needs g in f32 (got " + std::string(dtype_name(p.gate_dtype)) + ")";
  if (p.h_qk <= 0 || p.h_v <= 0 || p.h_v % p.h_qk != 0)
    return k + " needs H_v a multiple of H_qk (got H_qk = " + std::to_string(p.h_qk) + ", H_v = " +
           std::to_string(p.h_v) + ")";
  return {};
}

std::string check_rows16(const TokenTensor& t, const char* name) {
  const auto addr = reinterpret_cast<unsigned long long>(t.data);
  if (addr % 16 != 0) return std::string(name) + ": data pointer is not 16-byte aligned";
  if (t.stride_token % 8 != 0 || t.stride_head % 8 != 0 || t.stride_batch % 8 != 0)
    return std::string(name) + ": strides must be multiples of 8 elements (16-byte rows)";
  return {};
}

std::string qkv_type_name(DType qkv) {
  QLA_REQUIRE(qkv == DType::kBF16 || qkv == DType::kF16,
              "fused kernels: q/k/v must be bf16 or fp16, got " << dtype_name(qkv));
  return cuda::cuda_type_name(qkv);
}

std::string beta_type_name(DType qkv, DType beta) {
  QLA_REQUIRE(beta == DType::kF32 || beta == qkv,
              "fused kernels: beta must be f32 or the q/k/v dtype, got " << dtype_name(beta));
  return cuda::cuda_type_name(beta);
}

}  // namespace detail

static_assert(fused_fwd_in_space(FusedFwdConfig{}.chunk, FusedFwdConfig{}.block_v, FusedFwdConfig{}.stages,
                                 FusedFwdConfig{}.warps, FusedFwdConfig{}.state_in_smem, FusedFwdConfig{}.reg_split),
              "the default config must lie in the declared axes");

FusedFwdConfig FusedFwdConfig::from_point(const Point& p) {
  QLA_REQUIRE(fused_fwd_space().contains(p), "not a point of " << fused_fwd_space().kernel);
  return {p[0], p[1], p[2], p[3], p[4], p[5]};
}

const SpaceDecl& fused_fwd_space() {
  static const SpaceDecl space = [] {
    SpaceDecl s;
    s.kernel = "gdn.fused_fwd";
    s.axes = {
        {"chunk", "c", detail::axis_values(kFusedFwdChunkValues), "tokens per chunk C"},
        {"block_v", "bv", detail::axis_values(kFusedFwdBlockVValues), "V columns per CTA"},
        {"stages", "s", detail::axis_values(kFusedFwdStagesValues), "cp.async input ring depth"},
        {"warps", "w", detail::axis_values(kFusedFwdWarpsValues), "warps per CTA"},
        {"state_in_smem", "sm", detail::axis_values(kFusedFwdStateInSmemValues),
         "fp32 state slice in registers (0) or shared memory (1)"},
        {"reg_split", "rs", detail::axis_values(kFusedFwdRegSplitValues),
         "producer warpgroup registers (setmaxnreg); 0 = no warp specialisation"},
    };
    s.default_point = FusedFwdConfig{}.to_point();
    s.buildable = [](const Point& p, const ArchInfo& arch) {
      const FusedFwdConfig c{p[0], p[1], p[2], p[3], p[4], p[5]};
      if (c.reg_split != 0 && (c.state_in_smem != 0 || !arch.has_setmaxnreg())) return false;
      return fused_fwd_smem_bytes(c) <= static_cast<std::size_t>(arch.smem_per_block_optin);
    };
    return s;
  }();
  return space;
}

std::size_t fused_fwd_smem_bytes(const FusedFwdConfig& c) {
  if (c.reg_split != 0) return static_cast<std::size_t>(fused_fwd_ws_layout(c.chunk, c.block_v, c.stages).bytes);
  return static_cast<std::size_t>(fused_fwd_layout(c.chunk, c.block_v, c.stages, c.state_in_smem != 0).bytes);
}

cuda::KernelSpec fused_fwd_spec(const FusedFwdConfig& c, DType qkv, DType beta) {
  const std::string types = detail::qkv_type_name(qkv) + ", " + detail::beta_type_name(qkv, beta) + ">";
  const std::string common = std::to_string(c.chunk) + ", " + std::to_string(c.block_v) + ", " +
                             std::to_string(c.stages) + ", " + std::to_string(c.warps) + ", ";
  if (c.reg_split != 0)
    return {"gdn/fused_fwd_ws.cuh",
            "qla::gdn::fused_fwd_ws_kernel<" + common + std::to_string(c.reg_split) + ", " + types,
            cuda::params_layout<FusedFwdParams>()};
  return {"gdn/fused_fwd.cuh",
          "qla::gdn::fused_fwd_kernel<" + common + (c.state_in_smem ? "true" : "false") + ", " + types,
          cuda::params_layout<FusedFwdParams>()};
}

cuda::LaunchShape fused_fwd_shape(const FusedFwdConfig& c, int num_sequences, int heads_v) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(kFusedHeadDim / c.block_v * heads_v * num_sequences), 1, 1};
  s.block = {static_cast<unsigned>(c.reg_split != 0 ? fused_ws_threads(c.warps) : 32 * c.warps), 1, 1};
  s.dynamic_smem = fused_fwd_smem_bytes(c);
  return s;
}

std::string can_implement(const Problem& p, const FusedFwdConfig& c) {
  if (!fused_fwd_space().contains(c.to_point())) return "config is not a point of gdn.fused_fwd";
  return detail::fused_family_can_implement(p, "fused_fwd");
}

std::string check_params(const FusedFwdParams& p) {
  for (auto [t, name] : {std::pair{&p.q, "q"}, {&p.k, "k"}, {&p.v, "v"}, {&p.a, "A_r"}, {&p.o, "o"}})
    if (auto why = detail::check_rows16(*t, name); !why.empty()) return "fused_fwd: " + why;
  if (p.heads_v <= 0 || p.group <= 0 || p.heads_v % p.group != 0) return "fused_fwd: bad head counts";
  return {};
}

namespace {
const bool kRegistered = cuda::register_kernel_family(
    {&fused_fwd_space(), [](const Point& pt) {
       const auto c = FusedFwdConfig::from_point(pt);
       return std::vector<cuda::KernelSpec>{fused_fwd_spec(c, DType::kBF16, DType::kF32),
                                            fused_fwd_spec(c, DType::kF16, DType::kF32)};
     }});
}  // namespace

}  // namespace qla::gdn
