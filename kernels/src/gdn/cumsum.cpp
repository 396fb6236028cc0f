#include "qla/gdn/cumsum.hpp"

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/cuda/type_names.hpp"

namespace qla::gdn {

std::vector<cuda::KernelSpec> CumsumFamily::specs(const Config& c) {
  std::vector<cuda::KernelSpec> out;
  for (DType gate : {DType::kF32, DType::kBF16})
    for (bool reverse : {false, true}) out.push_back(cumsum_spec(c, reverse, gate));
  return out;
}

cuda::KernelSpec cumsum_spec(const CumsumConfig& c, bool reverse, DType gate) {
  return {"gdn/cumsum.cuh",
          "qla::gdn::chunk_local_cumsum_kernel<" + std::to_string(c.chunk) + ", " +
              (reverse ? "true" : "false") + ", " + cuda::cuda_type_name(gate) + ">",
          cuda::params_layout<ChunkCumsumParams>()};
}

cuda::LaunchShape cumsum_shape(const CumsumConfig&, int entries, int heads) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(entries), static_cast<unsigned>((heads + 31) / 32), 1};
  s.block = {128, 1, 1};
  return s;
}

std::string cumsum_can_implement(const Problem& p, const CumsumConfig& c) {
  if (p.gate_dtype != DType::kF32 && p.gate_dtype != DType::kBF16)
    return "cumsum needs fp32 or bf16 g";
  if (!cumsum_space().contains(c.to_point())) return "chunk size must be 32, 64 or 128";
  return {};
}

namespace {
const bool kRegistered = cuda::register_family<CumsumFamily>();
}  // namespace

}  // namespace qla::gdn
