#include "qla/gdn/l2norm.hpp"

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/cuda/type_names.hpp"

namespace qla::gdn {

std::vector<cuda::KernelSpec> L2NormFamily::specs(const Config& c) {
  return {l2norm_spec(c, DType::kBF16), l2norm_spec(c, DType::kF16)};
}

cuda::KernelSpec l2norm_spec(const L2NormConfig& c, DType dtype) {
  return {"gdn/l2norm.cuh",
          "qla::gdn::l2norm_kernel<" + std::to_string(c.warps) + ", " +
              cuda::cuda_type_name(dtype) + ">",
          cuda::params_layout<L2NormParams>()};
}

cuda::LaunchShape l2norm_shape(const L2NormConfig& c, long long rows, int heads) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>((rows * heads + c.warps - 1) / c.warps), 1, 1};
  s.block = {static_cast<unsigned>(c.warps * 32), 1, 1};
  return s;
}

std::string l2norm_can_implement(const Problem& p, const L2NormConfig& c) {
  if (p.k_dim != 128)
    return "l2norm supports head dim 128 only (got K = " + std::to_string(p.k_dim) + ")";
  if (p.qkv_dtype != DType::kBF16 && p.qkv_dtype != DType::kF16)
    return "l2norm needs bf16 or fp16 q/k";
  if (!l2norm_space().contains(c.to_point())) return "l2norm warps must be 4 or 8";
  return {};
}

namespace {
const bool kRegistered = cuda::register_family<L2NormFamily>();
}  // namespace

}  // namespace qla::gdn
