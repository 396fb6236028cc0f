// Host side of the chunk-forward role: the mma and ws variants' declarations, the specs, launch
// shapes and checks they share, plus the checks shared with kkt_solve and state_pass.
#include "qla/gdn/fused_fwd.hpp"

#include <string>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/cuda/type_names.hpp"
#include "qla/error.hpp"
#include "qla/gdn/fused_fwd_wgmma.hpp"
#include "qla/gdn/fused_fwd_ws.hpp"
#include "qla/gdn/fused_wgmma_params.hpp"

namespace qla::gdn {
namespace detail {

std::string fused_family_can_implement(const Problem& p, const char* kernel) {
  const std::string k(kernel);
  if (p.k_dim != kFusedHeadDim || p.v_dim != kFusedHeadDim)
    return k + " needs K = V = 128 (got K = " + std::to_string(p.k_dim) +
           ", V = " + std::to_string(p.v_dim) + ")";
  if (p.qkv_dtype != DType::kBF16 && p.qkv_dtype != DType::kF16)
    return k + " needs bf16 or fp16 q/k/v (got " + std::string(dtype_name(p.qkv_dtype)) + ")";
  if (p.beta_dtype != DType::kF32 && p.beta_dtype != p.qkv_dtype)
    return k + " needs beta in f32 or the q/k/v dtype (got " +
           std::string(dtype_name(p.beta_dtype)) + ")";
  if (p.gate_dtype != DType::kF32)
    return k + " needs g in f32 (got " + std::string(dtype_name(p.gate_dtype)) + ")";
  if (p.h_qk <= 0 || p.h_v <= 0 || p.h_v % p.h_qk != 0)
    return k + " needs H_v a multiple of H_qk (got H_qk = " + std::to_string(p.h_qk) +
           ", H_v = " + std::to_string(p.h_v) + ")";
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

bool FusedFwdFamily::buildable(const Config& c, const ArchInfo& arch) {
  return c.reg_split == 0 && c.wgmma == 0 &&
         fused_fwd_smem_bytes(c) <= static_cast<std::size_t>(arch.smem_per_block_optin);
}

std::vector<cuda::KernelSpec> FusedFwdFamily::specs(const Config& c) {
  return {fused_fwd_spec(c, DType::kBF16, DType::kF32),
          fused_fwd_spec(c, DType::kF16, DType::kF32)};
}

bool FusedFwdWsFamily::buildable(const Config& c, const ArchInfo& arch) {
  return c.reg_split != 0 && c.state_in_smem == 0 && c.wgmma == 0 && arch.has_setmaxnreg() &&
         fused_fwd_smem_bytes(c) <= static_cast<std::size_t>(arch.smem_per_block_optin);
}

std::vector<cuda::KernelSpec> FusedFwdWsFamily::specs(const Config& c) {
  return {fused_fwd_spec(c, DType::kBF16, DType::kF32),
          fused_fwd_spec(c, DType::kF16, DType::kF32)};
}

std::vector<cuda::KernelSpec> FusedFwdFamily::deploy_specs(const Config& c, const Problem& p) {
  return {fused_fwd_spec(c, p.qkv_dtype, p.beta_dtype)};
}

std::vector<cuda::KernelSpec> FusedFwdWsFamily::deploy_specs(const Config& c, const Problem& p) {
  return {fused_fwd_spec(c, p.qkv_dtype, p.beta_dtype)};
}

const char* fused_fwd_family_id(const FusedFwdConfig& c) {
  if (c.wgmma != 0) return FusedFwdWgmmaFamily::kId;
  return c.reg_split != 0 ? FusedFwdWsFamily::kId : FusedFwdFamily::kId;
}

Point FusedFwdConfig::to_point() const {
  if (wgmma != 0) return qla::to_point<FusedFwdWgmmaFamily>(*this);
  return reg_split != 0 ? qla::to_point<FusedFwdWsFamily>(*this)
                        : qla::to_point<FusedFwdFamily>(*this);
}

FusedFwdConfig fused_fwd_config(const std::string& kernel, const Point& p) {
  if (kernel == FusedFwdWgmmaFamily::kId) return qla::from_point<FusedFwdWgmmaFamily>(p);
  if (kernel == FusedFwdWsFamily::kId) return qla::from_point<FusedFwdWsFamily>(p);
  QLA_REQUIRE(kernel == FusedFwdFamily::kId, kernel << " is not a chunk-forward family");
  return qla::from_point<FusedFwdFamily>(p);
}

const SpaceDecl* fused_fwd_family_space(const std::string& kernel) {
  if (kernel == FusedFwdFamily::kId) return &fused_fwd_space();
  if (kernel == FusedFwdWsFamily::kId) return &fused_fwd_ws_space();
  if (kernel == FusedFwdWgmmaFamily::kId) return &fused_fwd_wgmma_space();
  return nullptr;
}

std::size_t fused_fwd_smem_bytes(const FusedFwdConfig& c) {
  if (c.wgmma != 0)
    return static_cast<std::size_t>(c.block_v == 128 ? fused_wgmma_2c_layout(c.stages).bytes
                                                     : fused_wgmma_layout(c.stages).bytes);
  if (c.reg_split != 0)
    return static_cast<std::size_t>(fused_fwd_ws_layout(c.chunk, c.block_v, c.stages).bytes);
  return static_cast<std::size_t>(
      fused_fwd_layout(c.chunk, c.block_v, c.stages, c.state_in_smem != 0).bytes);
}

std::string fused_wgmma_operand_types(const FusedFwdConfig& c, DType qkv) {
  QLA_REQUIRE(
      c.fp16_operands == kFp16OperandsNone || c.fp16_operands == kFp16OperandsAll ||
          c.fp16_operands == kFp16OperandsIntermediates,
      "fused_wgmma_operand_types: fp16_operands must be 0, 1 or 2, got " << c.fp16_operands);
  const std::string input = detail::qkv_type_name(qkv);
  if (c.fp16_operands == kFp16OperandsAll) return "__half, __half";
  if (c.fp16_operands == kFp16OperandsIntermediates) return input + ", __half";
  return input + ", " + input;
}

cuda::KernelSpec fused_fwd_spec(const FusedFwdConfig& c, DType qkv, DType beta) {
  const std::string types =
      detail::qkv_type_name(qkv) + ", " + detail::beta_type_name(qkv, beta) + ">";
  if (c.wgmma != 0 && c.block_v == 128) {
    // Two chains a CTA: the input type, and TM for the products of intermediates (f1, which
    // converts the inputs, does not build there: FusedFwdWgmmaFamily::buildable).
    const std::string input = detail::qkv_type_name(qkv);
    const std::string tm = c.fp16_operands == kFp16OperandsNone ? input : "__half";
    return {"gdn/fused_fwd_wgmma_2c.cuh",
            "qla::gdn::fused_fwd_wgmma_2c_kernel<" + std::to_string(c.stages) + ", " + input +
                ", " + tm + ", " + detail::beta_type_name(qkv, beta) + ">",
            cuda::params_layout<FusedFwdWgmmaParams>()};
  }
  if (c.wgmma != 0) {
    return {"gdn/fused_fwd_wgmma.cuh",
            "qla::gdn::fused_fwd_wgmma_kernel<" + std::to_string(c.stages) + ", " +
                detail::qkv_type_name(qkv) + ", " + fused_wgmma_operand_types(c, qkv) + ", " +
                detail::beta_type_name(qkv, beta) + ">",
            cuda::params_layout<FusedFwdWgmmaParams>()};
  }
  const std::string common = std::to_string(c.chunk) + ", " + std::to_string(c.block_v) + ", " +
                             std::to_string(c.stages) + ", " + std::to_string(c.warps) + ", ";
  if (c.reg_split != 0)
    return {"gdn/fused_fwd_ws.cuh",
            "qla::gdn::fused_fwd_ws_kernel<" + common + std::to_string(c.reg_split) + ", " + types,
            cuda::params_layout<FusedFwdParams>()};
  return {
      "gdn/fused_fwd.cuh",
      "qla::gdn::fused_fwd_kernel<" + common + (c.state_in_smem ? "true" : "false") + ", " + types,
      cuda::params_layout<FusedFwdParams>()};
}

cuda::LaunchShape fused_fwd_shape(const FusedFwdConfig& c, int num_sequences, int heads_v) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(kFusedHeadDim / c.block_v * heads_v * num_sequences), 1, 1};
  s.block = {static_cast<unsigned>(c.wgmma != 0       ? (c.block_v == 128 ? 512 : 384)
                                   : c.reg_split != 0 ? fused_ws_threads(c.warps)
                                                      : 32 * c.warps),
             1, 1};
  s.dynamic_smem = fused_fwd_smem_bytes(c);
  return s;
}

std::string can_implement(const Problem& p, const FusedFwdConfig& c) {
  const bool in = c.wgmma != 0       ? in_space<FusedFwdWgmmaFamily>(c) && c.reg_split == 0
                  : c.reg_split != 0 ? in_space<FusedFwdWsFamily>(c) && c.state_in_smem == 0
                                     : in_space<FusedFwdFamily>(c);
  if (!in) return std::string("config is not a point of ") + fused_fwd_family_id(c);
  return detail::fused_family_can_implement(p, "fused_fwd");
}

std::string check_params(const FusedFwdParams& p) {
  for (auto [t, name] :
       {std::pair{&p.q, "q"}, {&p.k, "k"}, {&p.v, "v"}, {&p.a, "A_r"}, {&p.o, "o"}})
    if (auto why = detail::check_rows16(*t, name); !why.empty()) return "fused_fwd: " + why;
  if (p.heads_v <= 0 || p.group <= 0 || p.heads_v % p.group != 0)
    return "fused_fwd: bad head counts";
  return {};
}

namespace {
const bool kRegistered = cuda::register_family<FusedFwdFamily>();
const bool kRegisteredWs = cuda::register_family<FusedFwdWsFamily>();
}  // namespace

}  // namespace qla::gdn
