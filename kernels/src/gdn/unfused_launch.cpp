// The unfused baseline pipeline's forward: argument checks, workspace carving and the five
// launches.
#include <cstdint>

#include "qla/cuda/aot_registry.hpp"
#include "qla/cuda/launcher.hpp"
#include "qla/error.hpp"
#include "qla/gdn/unfused.hpp"

namespace qla::gdn {
namespace {

namespace L = unfused_layout;

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

void check_token_tensor(const TokenTensor& t, const char* name, bool vector_rows) {
  QLA_REQUIRE(t.data != nullptr, "unfused_forward: tensor " << name << " is null");
  if (vector_rows) {
    QLA_REQUIRE(aligned16(t.data),
                "unfused_forward: tensor " << name << " must be 16-byte aligned");
    QLA_REQUIRE(t.stride_batch % 8 == 0 && t.stride_token % 8 == 0 && t.stride_head % 8 == 0,
                "unfused_forward: strides of "
                    << name << " must be multiples of 8 elements (16-byte rows), got "
                    << t.stride_batch << ", " << t.stride_token << ", " << t.stride_head);
  }
}

// Checks the arguments and returns the kernel parameters with the workspace carved in.
UnfusedParams checked_params(const UnfusedArgs& args, const UnfusedConfig& config, void* workspace,
                             std::size_t workspace_bytes) {
  UnfusedParams p = args.tensors;
  QLA_REQUIRE(unfused_space().contains(config.to_point()),
              "unfused_forward: config " << unfused_space().label(config.to_point())
                                         << " is not in gdn.unfused");
  QLA_REQUIRE(p.h_qk > 0 && p.h_v > 0 && p.h_v % p.h_qk == 0,
              "unfused_forward: h_v (" << p.h_v << ") must be a positive multiple of h_qk ("
                                       << p.h_qk << ")");
  check_token_tensor(p.q, "q", true);
  check_token_tensor(p.k, "k", true);
  check_token_tensor(p.v, "v", true);
  check_token_tensor(p.o, "o", true);
  check_token_tensor(p.g, "g", false);
  check_token_tensor(p.beta, "beta", false);
  QLA_REQUIRE(
      p.seq.cu_seqlens && p.seq.chunk_offset && (p.seq.chunk_index || p.seq.num_chunks == 0),
      "unfused_forward: the sequence view (cu_seqlens, chunk_index, chunk_offset) is incomplete");
  QLA_REQUIRE(p.seq.num_sequences >= 0 && p.seq.num_chunks >= 0 && p.seq.tokens_per_row > 0,
              "unfused_forward: bad sequence view sizes");
  QLA_REQUIRE(!p.h0.data || aligned16(p.h0.data), "unfused_forward: h0 must be 16-byte aligned");
  QLA_REQUIRE(!p.ht.data || aligned16(p.ht.data),
              "unfused_forward: the final state must be 16-byte aligned");
  const std::size_t need = unfused_workspace_bytes(p.seq.num_chunks, p.h_v);
  QLA_REQUIRE(workspace_bytes >= need,
              "unfused_forward: workspace holds " << workspace_bytes << " bytes, needs " << need);
  QLA_REQUIRE(need == 0 || reinterpret_cast<std::uintptr_t>(workspace) % 256 == 0,
              "unfused_forward: workspace must be 256-byte aligned");

  // Carve the workspace (every region is a multiple of 256 bytes).
  const std::size_t ch =
      static_cast<std::size_t>(p.seq.num_chunks) * static_cast<std::size_t>(p.h_v);
  float* ws = static_cast<float*>(workspace);
  p.g_cum = ws;
  p.beta_f = p.g_cum + ch * L::kChunk;
  p.a = p.beta_f + ch * L::kChunk;
  p.w = p.a + ch * L::kChunk * L::kChunk;
  p.u = p.w + ch * L::kChunk * L::kDim;
  p.h = p.u + ch * L::kChunk * L::kDim;
  return p;
}

void launch(UnfusedParams p, const UnfusedArgs& args, const UnfusedConfig& config,
            UnfusedStage stage, CUstream_st* stream) {
  const bool needs_chunks =
      stage == UnfusedStage::kKktSolve || stage == UnfusedStage::kWu || stage == UnfusedStage::kO;
  if (needs_chunks && p.seq.num_chunks == 0) return;
  if (stage == UnfusedStage::kH && p.seq.num_sequences == 0) return;
  const cuda::KernelSpec spec =
      unfused_spec(stage, config, args.qkv_dtype, args.gate_dtype, args.beta_dtype);
  if (!cuda::find_aot_kernel(spec.source, spec.name_expression))
    raise_api_error("qla", __FILE__, __LINE__, "unfused_forward",
                    "kernel " + spec.name_expression + " is not compiled ahead of time");
  cuda::KernelCache::global().get(spec).launch(
      unfused_shape(stage, config, p.seq.num_chunks, p.seq.num_sequences, p.h_v), &p, stream);
}

}  // namespace

void unfused_forward(const UnfusedArgs& args, const UnfusedConfig& config, void* workspace,
                     std::size_t workspace_bytes, CUstream_st* stream) {
  const UnfusedParams p = checked_params(args, config, workspace, workspace_bytes);
  for (UnfusedStage stage : kUnfusedStages) launch(p, args, config, stage, stream);
}

void unfused_launch_stage(const UnfusedArgs& args, const UnfusedConfig& config, void* workspace,
                          std::size_t workspace_bytes, UnfusedStage stage, CUstream_st* stream) {
  launch(checked_params(args, config, workspace, workspace_bytes), args, config, stage, stream);
}

}  // namespace qla::gdn
