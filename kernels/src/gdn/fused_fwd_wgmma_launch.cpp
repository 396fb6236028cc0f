#include "qla/gdn/fused_fwd_wgmma_launch.hpp"

#include <cstdint>

#include "qla/cuda/tensor_map_encode.hpp"
#include "qla/error.hpp"

namespace qla::gdn {
namespace {

// A 4-D view [B][T][heads][dim] of a 16-bit token tensor, SW128 boxes of 64 × 1 × 64 × 1.
cuda::TensorMap token_map(const TokenTensor& t, int dim, int heads, long long batch,
                          long long tokens, int box_rows) {
  cuda::TensorMapDesc d;
  d.base = t.data;
  d.dtype = DType::kBF16;  // any 16-bit type: TMA moves bytes
  d.rank = 4;
  const auto u = [](long long x) { return static_cast<std::uint64_t>(x); };
  d.extent = {u(dim), u(heads), u(tokens), u(batch), 0};
  // A single batch row's stride is never followed; give TMA a valid one.
  const long long batch_stride = batch > 1 ? t.stride_batch : tokens * t.stride_token;
  d.stride_bytes = {0, u(t.stride_head * 2), u(t.stride_token * 2), u(batch_stride * 2), 0};
  d.box = {64, 1, static_cast<std::uint32_t>(box_rows), 1, 0};
  d.swizzle = cuda::TmaSwizzle::k128B;
  return cuda::encode_tensor_map(d);
}

}  // namespace

FusedFwdWgmmaParams make_fused_wgmma_params(const FusedFwdParams& f, long long batch,
                                            long long tokens, int heads_qk) {
  QLA_REQUIRE(batch >= 1 && tokens >= 1, "fused_fwd_wgmma: empty tensors");
  FusedFwdWgmmaParams p{};
  p.box_rows = tokens < 64 ? static_cast<int>(tokens) : 64;
  p.q_map = token_map(f.q, kFusedHeadDim, heads_qk, batch, tokens, p.box_rows);
  p.k_map = token_map(f.k, kFusedHeadDim, heads_qk, batch, tokens, p.box_rows);
  p.v_map = token_map(f.v, kFusedHeadDim, f.heads_v, batch, tokens, p.box_rows);
  p.a_map = token_map(f.a, 64, f.heads_v, batch, tokens, p.box_rows);
  if (f.o.data != nullptr)  // the state pass writes no o
    p.o_map = token_map(f.o, kFusedHeadDim, f.heads_v, batch, tokens, p.box_rows);
  p.f = f;
  return p;
}

}  // namespace qla::gdn
