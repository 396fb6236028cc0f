// Host side of the unfused baseline pipeline: its declaration, kernel specs, launch shapes and
// checks. The forward itself (launches) is unfused_launch.cpp.
#include "qla/gdn/unfused.hpp"

#include <cstdint>
#include <iterator>
#include <sstream>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/cuda/type_names.hpp"
#include "qla/error.hpp"

namespace qla::gdn {
namespace {

namespace L = unfused_layout;
constexpr unsigned kThreads = 128;

const char* stage_source(UnfusedStage stage) {
  switch (stage) {
    case UnfusedStage::kCumsum:
      return "gdn/unfused_cumsum.cuh";
    case UnfusedStage::kKktSolve:
      return "gdn/unfused_kkt_solve.cuh";
    case UnfusedStage::kWu:
      return "gdn/unfused_wu.cuh";
    case UnfusedStage::kH:
      return "gdn/unfused_h.cuh";
    case UnfusedStage::kO:
      return "gdn/unfused_o.cuh";
  }
  return "";
}

unsigned grid_dim(long long n, const char* what) {
  QLA_REQUIRE(n >= 0 && n <= 0x7fffffffLL,
              "unfused pipeline: " << what << " = " << n << " exceeds the grid limit");
  return static_cast<unsigned>(n);
}

}  // namespace

bool UnfusedFamily::buildable(const Config& c, const ArchInfo& arch) {
  return L::h_smem_bytes(c.h_block_v) <= arch.smem_per_block_optin &&
         L::o_smem_bytes(c.o_block_v) <= arch.smem_per_block_optin &&
         L::kWuSmemBytes <= arch.smem_per_block_optin;
}

std::vector<cuda::KernelSpec> UnfusedFamily::specs(const Config& c) {
  std::vector<cuda::KernelSpec> out;
  for (DType gate : {DType::kF32, DType::kBF16})
    for (DType beta : {DType::kF32, DType::kBF16})
      out.push_back(unfused_spec(UnfusedStage::kCumsum, c, DType::kBF16, gate, beta));
  for (DType qkv : {DType::kBF16, DType::kF16})
    for (UnfusedStage stage :
         {UnfusedStage::kKktSolve, UnfusedStage::kWu, UnfusedStage::kH, UnfusedStage::kO})
      out.push_back(unfused_spec(stage, c, qkv));
  return out;
}

std::string UnfusedConfig::label() const { return unfused_space().label(to_point()); }

namespace {
const bool kRegistered = cuda::register_family<UnfusedFamily>();
}  // namespace

const char* unfused_stage_name(UnfusedStage stage) {
  switch (stage) {
    case UnfusedStage::kCumsum:
      return "cumsum";
    case UnfusedStage::kKktSolve:
      return "kkt_solve";
    case UnfusedStage::kWu:
      return "wu";
    case UnfusedStage::kH:
      return "h";
    case UnfusedStage::kO:
      return "o";
  }
  return "?";
}

cuda::KernelSpec unfused_spec(UnfusedStage stage, const UnfusedConfig& config, DType qkv,
                              DType gate, DType beta) {
  QLA_REQUIRE(qkv == DType::kBF16 || qkv == DType::kF16,
              "unfused pipeline: q/k/v must be bf16 or f16");
  std::ostringstream name;
  name << "qla::gdn::";
  switch (stage) {
    case UnfusedStage::kCumsum:
      QLA_REQUIRE(gate == DType::kF32 || gate == DType::kBF16,
                  "unfused pipeline: g must be f32 or bf16");
      QLA_REQUIRE(beta == DType::kF32 || beta == DType::kBF16,
                  "unfused pipeline: beta must be f32 or bf16");
      name << "unfused_cumsum_kernel<" << cuda::cuda_type_name(gate) << ", "
           << cuda::cuda_type_name(beta) << ">";
      break;
    case UnfusedStage::kKktSolve:
      name << "unfused_kkt_solve_kernel<" << cuda::cuda_type_name(qkv) << ">";
      break;
    case UnfusedStage::kWu:
      name << "unfused_wu_kernel<" << cuda::cuda_type_name(qkv) << ">";
      break;
    case UnfusedStage::kH:
      name << "unfused_h_kernel<" << cuda::cuda_type_name(qkv) << ", " << config.h_block_v << ", "
           << config.h_warps << ">";
      break;
    case UnfusedStage::kO:
      name << "unfused_o_kernel<" << cuda::cuda_type_name(qkv) << ", " << config.o_block_v << ">";
      break;
  }
  return {stage_source(stage), name.str(), cuda::params_layout<UnfusedParams>()};
}

cuda::LaunchShape unfused_shape(UnfusedStage stage, const UnfusedConfig& config,
                                long long num_chunks, long long num_sequences, int h_v) {
  cuda::LaunchShape s;
  s.block = {kThreads, 1, 1};
  const unsigned nc = grid_dim(num_chunks, "chunks");
  const unsigned heads = static_cast<unsigned>(h_v);
  switch (stage) {
    case UnfusedStage::kCumsum:
      // At least one CTA: the cumsum kernel also zeroes o's padding rows, even when there are no
      // chunks.
      s.grid = {nc > 0 ? nc : 1u, (heads + 1) / 2, 1};
      break;
    case UnfusedStage::kKktSolve:
      s.grid = {nc, heads, 1};
      break;
    case UnfusedStage::kWu:
      s.grid = {nc, heads, 1};
      s.dynamic_smem = L::kWuSmemBytes;
      break;
    case UnfusedStage::kH:
      s.grid = {static_cast<unsigned>(L::kDim / config.h_block_v), heads,
                grid_dim(num_sequences, "sequences")};
      s.block = {32u * static_cast<unsigned>(config.h_warps), 1, 1};
      s.dynamic_smem = static_cast<std::size_t>(L::h_smem_bytes(config.h_block_v));
      break;
    case UnfusedStage::kO:
      s.grid = {nc, heads, static_cast<unsigned>(L::kDim / config.o_block_v)};
      s.dynamic_smem = static_cast<std::size_t>(L::o_smem_bytes(config.o_block_v));
      break;
  }
  return s;
}

std::string can_implement(const Problem& problem, const UnfusedConfig& config) {
  std::ostringstream why;
  if (problem.k_dim != 128 || problem.v_dim != 128)
    why << "the unfused pipeline needs K = V = 128, got K = " << problem.k_dim
        << ", V = " << problem.v_dim;
  else if (problem.qkv_dtype != DType::kBF16 && problem.qkv_dtype != DType::kF16)
    why << "the unfused pipeline needs bf16 or f16 q/k/v, got " << dtype_name(problem.qkv_dtype);
  else if (problem.gate_dtype != DType::kF32 && problem.gate_dtype != DType::kBF16)
    why << "the unfused pipeline needs f32 or bf16 g, got " << dtype_name(problem.gate_dtype);
  else if (problem.beta_dtype != DType::kF32 && problem.beta_dtype != DType::kBF16)
    why << "the unfused pipeline needs f32 or bf16 beta, got " << dtype_name(problem.beta_dtype);
  else if (problem.h_qk <= 0 || problem.h_v <= 0 || problem.h_v % problem.h_qk != 0)
    why << "h_v (" << problem.h_v << ") must be a positive multiple of h_qk (" << problem.h_qk
        << ")";
  else if (problem.h_v > 65535)
    why << "the unfused pipeline supports at most 65535 value heads, got " << problem.h_v;
  else if (problem.l2norm_qk)
    why << "the unfused pipeline does not fuse q/k l2 normalisation; normalise q and k first";
  else if (!unfused_space().contains(config.to_point()))
    why << "config " << unfused_space().label(config.to_point()) << " is not in space gdn.unfused";
  else if (unfused_num_chunks(problem) > 0x7fffffffLL)
    why << "the problem has more chunks than the grid allows";
  return why.str();
}

long long unfused_num_chunks(const Problem& problem) {
  long long nc = 0;
  for (std::int64_t n = 0; n < problem.num_sequences(); ++n)
    nc += (problem.seq_length(n) + L::kChunk - 1) / L::kChunk;
  return nc;
}

std::size_t unfused_workspace_bytes(long long num_chunks, int h_v) {
  const std::size_t per_chunk_head =
      2 * L::kChunk + L::kChunk * L::kChunk + 2 * L::kChunk * L::kDim + L::kDim * L::kDim;
  return static_cast<std::size_t>(num_chunks) * static_cast<std::size_t>(h_v) * per_chunk_head *
         sizeof(float);
}

std::size_t unfused_workspace_bytes(const Problem& problem) {
  return unfused_workspace_bytes(unfused_num_chunks(problem), problem.h_v);
}

}  // namespace qla::gdn
