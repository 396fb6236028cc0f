// gdn.fused_fwd_wgmma's declaration; its spec, launch shape and checks live with the other
// chunk-forward variants' in fused_fwd.cpp.
#include "qla/gdn/fused_fwd_wgmma.hpp"

#include "qla/cuda/kernel_catalog.hpp"

namespace qla::gdn {

bool FusedFwdWgmmaFamily::buildable(const Config& c, const ArchInfo& arch) {
  return c.wgmma == 1 && c.reg_split == 0 && arch.has_wgmma() && arch.has_setmaxnreg() &&
         (c.block_v == 64 || c.fp16_operands != kFp16OperandsAll) &&
         fused_fwd_smem_bytes(c) <= static_cast<std::size_t>(arch.smem_per_block_optin);
}

std::vector<cuda::KernelSpec> FusedFwdWgmmaFamily::specs(const Config& c) {
  return {fused_fwd_spec(c, DType::kBF16, DType::kF32),
          fused_fwd_spec(c, DType::kF16, DType::kF32)};
}

std::vector<cuda::KernelSpec> FusedFwdWgmmaFamily::deploy_specs(const Config& c, const Problem& p) {
  return {fused_fwd_spec(c, p.qkv_dtype, p.beta_dtype)};
}

namespace {
const bool kRegistered = cuda::register_family<FusedFwdWgmmaFamily>();
}  // namespace

}  // namespace qla::gdn
