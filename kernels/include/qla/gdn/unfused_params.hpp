// Parameters of the kernels of the unfused baseline pipeline (unfused.hpp has the host API). Shared
// by host code, nvcc and NVRTC: builtin types only.
#pragma once

#include "qla/gdn/tensor_views.hpp"

namespace qla::gdn {

/// What every kernel of the unfused pipeline receives (by value). Inputs/outputs are the op's
/// tensors; the workspace pointers are carved by `unfused_forward` out of one buffer of
/// `unfused_workspace_bytes(problem)`.
///
/// Workspace tensors are chunk-major and fp32, NC = seq.num_chunks, H = h_v, C = 64, K = V = 128.
/// Rows of a partial chunk beyond its sequence hold: g_cum = g_cum of the last valid token, beta =
/// 0, A = identity rows, w = u = 0 (FLA's padding rule).
struct UnfusedParams {
  TokenTensor q;     ///< [B, T, h_qk, K] bf16 or fp16
  TokenTensor k;     ///< [B, T, h_qk, K], q's dtype
  TokenTensor v;     ///< [B, T, h_v, V], q's dtype
  TokenTensor g;     ///< [B, T, h_v] raw log-space decay per token (not cumulated), fp32 or bf16
  TokenTensor beta;  ///< [B, T, h_v], fp32 or bf16
  TokenTensor o;  ///< [B, T, h_v, V] output, q's dtype; rows after cu_seqlens[N] are written with 0
  StateTensor h0;    ///< fp32 [N, h_v, K, V] or null (zero initial state)
  StateTensor ht;    ///< fp32 [N, h_v, K, V] or null (final state not requested)
  SequenceView seq;  ///< sequences and the chunk work list for C = 64
  int h_qk;          ///< query/key heads; value head h reads qk head h / (h_v / h_qk)
  int h_v;           ///< value heads
  float scale;       ///< output scale (K^-1/2 by default)
  float* g_cum;      ///< workspace [NC, H, C]: chunk-local inclusive cumsum of g
  float* beta_f;     ///< workspace [NC, H, C]: beta as fp32
  float* a;  ///< workspace [NC, H, C, C]: FLA's gated A = (I + StrictLower(diag(β)(KKᵀ)⊙Γ))⁻¹
  float* w;  ///< workspace [NC, H, C, K]: w = A (β e^g ⊙ K)
  float* u;  ///< workspace [NC, H, C, V]: u = A (β ⊙ V); the h kernel overwrites it with v_new
  float* h;  ///< workspace [NC, H, K, V]: state at the start of every chunk
};

/// Shared-memory layout sizes, used by the device code and by the host's launch shapes and
/// buildable check. Row pitches (elements) keep the TF32 fragment reads bank-conflict-free
/// (unfused_common.cuh).
namespace unfused_layout {
constexpr int kChunk = 64;
constexpr int kDim = 128;
constexpr int kF32RowPitchK = kDim + 4;    ///< fp32 (C, 128) tile read along its rows: w
constexpr int kF32RowPitchC = kChunk + 4;  ///< fp32 (C, C) tile read along its rows: A, P
constexpr int kHalfPitch = kDim + 8;       ///< 16-bit (C, 128) tiles: q, k, v
/// fp32 tile of width bv read along its columns (h, u, v_new slices).
constexpr int f32_col_pitch(int bv) { return bv + 8; }
/// wu kernel: A diag(βe^g), A diag(β), K, V, g, β.
constexpr int kWuSmemBytes =
    2 * kChunk * kF32RowPitchC * 4 + 2 * kChunk * kHalfPitch * 2 + 2 * kChunk * 4;
/// h kernel: one input stage (w, K, u slice, g).
constexpr int h_stage_bytes(int bv) {
  return kChunk * kF32RowPitchK * 4 + kChunk * kHalfPitch * 2 + kChunk * f32_col_pitch(bv) * 4 +
         kChunk * 4;
}
/// h kernel: two stages and the fp32 state slice (128 x bv).
constexpr int h_smem_bytes(int bv) { return 2 * h_stage_bytes(bv) + kDim * f32_col_pitch(bv) * 4; }
/// o kernel: Q, K, h slice, v_new slice, P, g.
constexpr int o_smem_bytes(int bv) {
  return 2 * kChunk * kHalfPitch * 2 + kDim * f32_col_pitch(bv) * 4 +
         kChunk * f32_col_pitch(bv) * 4 + kChunk * kF32RowPitchC * 4 + kChunk * 4;
}
}  // namespace unfused_layout

}  // namespace qla::gdn
