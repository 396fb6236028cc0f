#include "qla/gdn/naive_fwd.hpp"

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/cuda/type_names.hpp"

namespace qla::gdn {

std::vector<cuda::KernelSpec> NaiveFwdFamily::specs(const Config& c) {
  std::vector<cuda::KernelSpec> out;
  for (DType qkv : {DType::kBF16, DType::kF16})
    for (DType gate : {DType::kF32, DType::kBF16})
      for (DType beta : {DType::kF32, DType::kBF16})
        out.push_back(naive_fwd_spec(c, qkv, gate, beta));
  return out;
}

cuda::KernelSpec naive_fwd_spec(const NaiveFwdConfig& c, DType qkv, DType gate, DType beta) {
  return {"gdn/naive_fwd.cuh",
          "qla::gdn::naive_fwd_kernel<" + std::to_string(c.block_v) + ", " +
              std::to_string(c.k_split) + ", " + cuda::cuda_type_name(qkv) + ", " +
              cuda::cuda_type_name(gate) + ", " + cuda::cuda_type_name(beta) + ">",
          cuda::params_layout<NaiveFwdParams>()};
}

cuda::LaunchShape naive_fwd_shape(const NaiveFwdConfig& c, int h_v, long long num_sequences) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(128 / c.block_v), static_cast<unsigned>(h_v),
            static_cast<unsigned>(num_sequences)};
  s.block = {static_cast<unsigned>(c.block_v * c.k_split), 1, 1};
  return s;
}

std::string naive_fwd_can_implement(const Problem& p, const NaiveFwdConfig& c) {
  if (p.k_dim != 128 || p.v_dim != 128) {
    return "naive_fwd supports K = V = 128 only (got K = " + std::to_string(p.k_dim) +
           ", V = " + std::to_string(p.v_dim) + ")";
  }
  if (p.qkv_dtype != DType::kBF16 && p.qkv_dtype != DType::kF16)
    return "naive_fwd needs bf16 or fp16 q/k/v";
  if (p.gate_dtype != DType::kF32 && p.gate_dtype != DType::kBF16)
    return "naive_fwd needs fp32 or bf16 g";
  if (p.beta_dtype != DType::kF32 && p.beta_dtype != DType::kBF16)
    return "naive_fwd needs fp32 or bf16 beta";
  if (!naive_fwd_space().contains(c.to_point()))
    return "config " + naive_fwd_space().label(c.to_point()) + " is not in gdn.naive_fwd";
  if (p.num_sequences() > 65535) return "naive_fwd: more than 65535 sequences";
  return {};
}

namespace {
const bool kRegistered = cuda::register_family<NaiveFwdFamily>();
}  // namespace

}  // namespace qla::gdn
