// Kernel parameters and shared-memory layouts of the FlashQLA-style forward kernels: kkt_solve,
// fused_fwd and state_pass. Read by host code (any C++17 compiler), nvcc and NVRTC: builtin types
// only, no standard headers. The layout functions are the one definition of each kernel's shared
// memory: the kernel carves its dynamic shared memory with them and the host sizes the launch and
// the space's buildable() check with them.
//
// Common preconditions (checked on the host by each family's check_params()):
//  * K = V = 128; 16-bit tensors (q, k, v, o, A_r) have 16-byte aligned rows (data pointer and
//  token/head/batch
//    strides multiples of 8 elements);
//  * g is the chunk-local inclusive cumsum of the raw gate for the same chunk size (fp32), beta is
//  fp32 or the qkv
//    dtype (template argument of the kernel).
#pragma once

#include "qla/gdn/tensor_views.hpp"

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define QLA_HOST_DEVICE __host__ __device__
#else
#define QLA_HOST_DEVICE
#endif

namespace qla::gdn {

/// Head dimensions every fused kernel is written for.
constexpr int kFusedHeadDim = 128;

/// Row pitch (elements) of a 16-bit shared-memory tile with `cols` columns: +8 keeps ldmatrix
/// conflict-free.
QLA_HOST_DEVICE constexpr int fused_pitch16(int cols) { return cols + 8; }
/// Row pitch (floats) of an fp32 shared-memory tile with `cols` columns.
QLA_HOST_DEVICE constexpr int fused_pitch32(int cols) { return cols + 4; }

// ---------------------------------------------------------------------------------------------------------
// kkt_solve: A_r = (I + StrictLower(diag(beta) K Kᵀ))⁻¹ per (chunk, value head).

/// KktSolveParams::g_dtype: the gate's dtype.
inline constexpr int kKktGateF32 = 0;
inline constexpr int kKktGateBF16 = 1;

/// Parameters of kkt_solve_kernel. Grid: one CTA per (chunk of seq.chunk_index, query/key head),
/// 1-D, blockIdx.x = chunk * (heads_v / group) + qk head, and it writes A_r of the group's value
/// heads; or (per value head) blockIdx.x = chunk * heads_v + value head.
struct KktSolveParams {
  TokenTensor k;     ///< [B, T, H_qk, 128] qkv dtype
  TokenTensor beta;  ///< [B, T, H_v] (dim 1) fp32 or qkv dtype
  TokenTensor
      a;  ///< out [B, T, H_v, C] qkv dtype; row s of the chunk's A_r at token s; only valid rows
  SequenceView seq;  ///< chunk_index/num_chunks for chunk size C
  int heads_v;       ///< H_v
  int group;         ///< H_v / H_qk (value heads per qk head)
  /// The call's error word (qla/gdn/call_error.hpp), or null: kCallErrorExpansiveKeys is ORed in
  /// when β‖k‖² > 2 at a valid token.
  int* error;
  /// The configs that fuse the chunk-local cumsum (cs1) also write what chunk_local_cumsum_kernel
  /// writes for the CTA's chunk and value heads: g_out [B, T, H_v] fp32 from the gate g_in
  /// [B, T, H_v] of dtype g_dtype (kKktGateF32, kKktGateBF16). Unused otherwise.
  TokenTensor g_in;
  TokenTensor g_out;
  int g_dtype;
};

/// Shared-memory layout of kkt_solve (bytes from the dynamic smem base).
struct KktSolveLayout {
  int k_tile;  ///< (C, 128) 16-bit, pitch fused_pitch16(128)
  int l_tile;  ///< (C, C) fp32, pitch fused_pitch32(C): the lower triangle of K Kᵀ
  int a_tile;  ///< (C, C) fp32, pitch C, swizzled (kkt_solve.cuh): the inverse being built
  int t_tile;  ///< (C, C) fp32, as a_tile: scratch of the merges, over the K tile (dead once K Kᵀ
               ///< is formed)
  int beta;    ///< 2 x C floats: β of the value head being inverted and of the next one
  int bytes;   ///< total
};
/// Offset (floats) of element (r, c) in kkt_solve's tiles of the inverse and the merges' scratch:
/// rows of `cols` floats, no padding, their 16-byte groups permuted by the row (column c at c ^
/// (8·(r mod 4) + 4·(r/4 mod 2))). The merges read these tiles both as the A operand of m16n8k8
/// (lane (g, t) reads row g, column t) and as B (row t, column g); with this swizzle both touch 32
/// different banks, where a padded pitch serves one of them only (with cols + 4 the B reads were
/// 2-way conflicts, part of the third of kkt_solve's shared-memory wavefronts that an H200 counted
/// as conflicts). Groups of 4 columns stay contiguous and 16-byte aligned, so accumulator pairs
/// are written 8 bytes at a time and the store reads 16. CPU tests: kkt_swizzle_test.cpp.
QLA_HOST_DEVICE constexpr int kkt_swizzled(int cols, int r, int c) {
  return r * cols + (c ^ (((r & 3) << 3) | (r & 4)));
}

QLA_HOST_DEVICE constexpr KktSolveLayout kkt_solve_layout(int chunk) {
  const int k_bytes = chunk * fused_pitch16(kFusedHeadDim) * 2;
  const int l_bytes = chunk * fused_pitch32(chunk) * 4;
  const int a_bytes = chunk * chunk * 4;
  static_assert(64 * 64 * 4 <= 64 * fused_pitch16(kFusedHeadDim) * 2,
                "the scratch tile fits over the K tile");
  KktSolveLayout l{0, k_bytes, k_bytes + l_bytes, 0, k_bytes + l_bytes + a_bytes, 0};
  l.bytes = l.beta + 2 * chunk * 4;
  return l;
}

/// Warps a SM that kkt_solve's block-row kernel is built for with 1, 4 or 8 warps a CTA: at most
/// 128 registers a thread.
inline constexpr int kKktRowsWarpsPerSm = 16;

/// CTAs a SM in the launch bounds of kkt_solve's block-row kernel with `warps` warps a CTA at chunk
/// size `chunk`: 4 of 4 or 2 of 8 (kKktRowsWarpsPerSm); 6 of 2: at 8 (and at 7, where ptxas still
/// chose 128 registers) c64.b16.w2.vh0.cs1 spilled 8 bytes (nvcc 13.0); at 6, 160 registers and no
/// spill; of 1 warp 16 at C = 32 and 10 at C = 64, as many as shared memory lets an H200 SM hold
/// (~21 KB a CTA), so ptxas may take up to 200 registers where a bound of 16 held it to 128 and
/// spilled. Its persistent grid holds as many CTAs as are resident (kkt_solve_shape).
QLA_HOST_DEVICE constexpr int kkt_rows_ctas_per_sm(int chunk, int warps) {
  return warps == 1 ? (chunk == 64 ? 10 : 16) : warps == 2 ? 6 : kKktRowsWarpsPerSm / warps;
}

/// Whether kkt_solve's block-row kernel with `warps` warps a CTA forms M over its K tile (M's
/// rows overwrite K's rows that no later block row reads), so that a CTA needs ~20 KB of shared
/// memory instead of ~35 KB and more CTAs fit a SM; the next work item's K tile then loads after
/// the inversion instead of under it. For 1 and 2 warps: there the CTAs, not the warps, are the
/// SM's parallelism (a value head an item at GVA group 1 keeps only one warp of a CTA inverting).
QLA_HOST_DEVICE constexpr bool kkt_rows_m_over_k(int warps) { return warps <= 2; }

/// Shared-memory layout of kkt_solve's block-row inversion (the b16 configs, kkt_solve_rows.cuh):
/// the K tile (the current work item's until M is formed, then the next one's), M (over the K
/// tile where kkt_rows_m_over_k), and per warp the β of its value head and a scratch area that
/// holds two diagonal blocks (fp32) during the substitution and one block row of A_r (16-bit)
/// while it is stored.
struct KktRowsLayout {
  int k_tile;   ///< (C, 128) 16-bit, pitch fused_pitch16(128)
  int k_bytes;  ///< bytes of one K tile
  int m_tile;  ///< (C, C) fp32, pitch m_pitch: the lower triangle of K Kᵀ (at k_tile or after it)
  int m_pitch;  ///< C + 8 floats: ≡ 8 (mod 32), so a warp's 8-byte fragment reads touch 32 banks
  int warp_area;    ///< warp w's area at warp_area + w · warp_bytes
  int warp_bytes;   ///< C floats of β, then the scratch
  int scratch;      ///< offset of the scratch within a warp's area
  int diag_pitch;   ///< 24 floats: a diagonal block's rows (its 8-byte fragment reads hit 32 banks)
  int diag_block;   ///< floats from the first diagonal block to the second (16 rows + 16: the two
                    ///< half-warps' column writes fall in different banks)
  int stage_pitch;  ///< C + 8 16-bit elements: a staged row of A_r
  int bytes;        ///< total
};
QLA_HOST_DEVICE constexpr KktRowsLayout kkt_rows_layout(int chunk, int warps) {
  KktRowsLayout l{};
  l.k_tile = 0;
  l.k_bytes = chunk * fused_pitch16(kFusedHeadDim) * 2;
  l.m_pitch = chunk + 8;
  const int m_bytes = chunk * l.m_pitch * 4;
  l.m_tile = kkt_rows_m_over_k(warps) ? l.k_tile : l.k_bytes;
  l.warp_area = l.m_tile + m_bytes > l.k_bytes ? l.m_tile + m_bytes : l.k_bytes;
  l.scratch = chunk * 4;
  l.diag_pitch = 24;
  l.diag_block = 16 * l.diag_pitch + 16;
  l.stage_pitch = chunk + 8;
  const int diag_bytes = (l.diag_block + 16 * l.diag_pitch) * 4;
  const int stage_bytes = 16 * l.stage_pitch * 2;
  l.warp_bytes = l.scratch + (diag_bytes > stage_bytes ? diag_bytes : stage_bytes);
  l.bytes = l.warp_area + warps * l.warp_bytes;
  return l;
}

// ---------------------------------------------------------------------------------------------------------
// fused_fwd: o and the final state from q, k, v, A_r, g_cum, beta and the initial state.

/// Parameters of fused_fwd_kernel. Grid: (V / BV) * H_v * N CTAs, 1-D, V-slice fastest, then head,
/// then sequence. Sequence n covers flat tokens [cu_seqlens[n], cu_seqlens[n+1]); it may be a CP
/// piece.
struct FusedFwdParams {
  TokenTensor q;     ///< [B, T, H_qk, 128] qkv dtype
  TokenTensor k;     ///< [B, T, H_qk, 128] qkv dtype
  TokenTensor v;     ///< [B, T, H_v, 128] qkv dtype
  TokenTensor a;     ///< A_r [B, T, H_v, C] qkv dtype (kkt_solve output for the same chunk size)
  TokenTensor g;     ///< g_cum [B, T, H_v] fp32, chunk-local inclusive cumsum
  TokenTensor beta;  ///< [B, T, H_v] fp32 or qkv dtype
  TokenTensor o;     ///< out [B, T, H_v, 128] qkv dtype; rows after cu_seqlens[N] are written 0
  /// Initial states, fp32 [rows, H_v, 128, 128] ([K, V] layout); null = zero initial state for
  /// every sequence.
  const float* h0;
  /// [N] row of h0 for each sequence, -1 = zero state; null = row n for sequence n. CP: the
  /// per-piece corrected initial states.
  const int* h0_index;
  float* ht;  ///< final states, fp32 [rows, H_v, 128, 128]; null = not written
  const int*
      ht_index;  ///< [N] row of ht for each sequence, -1 = not written (CP: all but the last piece)
  SequenceView
      seq;      ///< cu_seqlens, num_sequences, tokens_per_row, total_tokens (chunk lists unused)
  int heads_v;  ///< H_v
  int group;    ///< H_v / H_qk
  float scale;  ///< output scale (K^-1/2 by default)
};

/// Shared-memory layout of fused_fwd (bytes from the dynamic smem base). Per stage: q, k (C, 128),
/// v slice (C, BV), A_r (C, C), all 16-bit. Then the state copy (128, BV) fp16, V_d (C, BV) fp16,
/// P_g (C, C) fp16, g and beta (C floats each) and, when the state lives in shared memory, the fp32
/// state (128, BV).
struct FusedFwdLayout {
  int stage_bytes;  ///< bytes of one input stage
  int q, k, v, a;   ///< offsets inside a stage
  int s16;          ///< (128, BV) fp16 copy of the state: the GEMM operand of K·S and Q·S
  int vd;           ///< (C, BV) fp16 V_d
  int pg;           ///< (C, C) fp16 P_g
  int g, beta;      ///< C floats each
  int s32;    ///< (128, BV) fp32 state, pitch fused_pitch32(BV), when in shared memory (else ==
              ///< bytes)
  int bytes;  ///< total
};
QLA_HOST_DEVICE constexpr FusedFwdLayout fused_fwd_layout(int chunk, int bv, int stages,
                                                          bool state_in_smem) {
  const int qk = chunk * fused_pitch16(kFusedHeadDim) * 2;
  const int vb = chunk * fused_pitch16(bv) * 2;
  const int ab = chunk * fused_pitch16(chunk) * 2;
  FusedFwdLayout l{};
  l.q = 0;
  l.k = qk;
  l.v = 2 * qk;
  l.a = 2 * qk + vb;
  l.stage_bytes = 2 * qk + vb + ab;
  l.s16 = stages * l.stage_bytes;
  l.vd = l.s16 + kFusedHeadDim * fused_pitch16(bv) * 2;
  l.pg = l.vd + vb;
  l.g = l.pg + ab;
  l.beta = l.g + chunk * 4;
  l.s32 = l.beta + chunk * 4;
  l.bytes = l.s32 + (state_in_smem ? kFusedHeadDim * fused_pitch32(bv) * 4 : 0);
  return l;
}

/// Register split of the warp-specialised fused_fwd (fused_fwd_ws_kernel): one producer warpgroup
/// (128 threads) loads, `consumer_warps` warps compute. The kernel is compiled for one CTA per SM,
/// so every thread starts with fused_ws_entry_regs(); the producer drops to `producer_regs`
/// (setmaxnreg.dec) and the consumers take what it freed (setmaxnreg.inc to
/// fused_ws_consumer_regs(), 0 = no increase: with 4 consumer warps they already start at the
/// 255-register cap). 8 consumer warps: 168 at entry; producer 40 → consumers 232, 24 → 240.
QLA_HOST_DEVICE constexpr int fused_ws_threads(int consumer_warps) {
  return 32 * consumer_warps + 128;
}
QLA_HOST_DEVICE constexpr int fused_ws_entry_regs(int consumer_warps) {
  const int r = 65536 / fused_ws_threads(consumer_warps);
  return (r > 255 ? 255 : r) / 8 * 8;
}
QLA_HOST_DEVICE constexpr int fused_ws_consumer_regs(int consumer_warps, int producer_regs) {
  const int entry = fused_ws_entry_regs(consumer_warps);
  const int r = (entry + (entry - producer_regs) * 128 / (32 * consumer_warps)) / 8 * 8;
  return entry >= 248 ? 0 : (r > 248 ? 248 : r);
}

/// Shared-memory layout of the warp-specialised fused_fwd. Per stage: q, k (C, 128), v slice (C,
/// BV), A_r (C, C), all 16-bit, then g and β (C floats each): the producer fills a whole stage.
/// Then the consumers' state copy (128, BV) fp16, V_d (C, BV) fp16, P_g (C, C) fp16, and the ring's
/// mbarriers (full[stages], empty[stages]).
struct FusedFwdWsLayout {
  int stage_bytes;          ///< bytes of one input stage
  int q, k, v, a, g, beta;  ///< offsets inside a stage
  int s16, vd, pg;          ///< consumer tiles
  int bars;                 ///< 2 · stages 8-byte mbarriers
  int bytes;                ///< total
};
QLA_HOST_DEVICE constexpr FusedFwdWsLayout fused_fwd_ws_layout(int chunk, int bv, int stages) {
  const int qk = chunk * fused_pitch16(kFusedHeadDim) * 2;
  const int vb = chunk * fused_pitch16(bv) * 2;
  const int ab = chunk * fused_pitch16(chunk) * 2;
  FusedFwdWsLayout l{};
  l.q = 0;
  l.k = qk;
  l.v = 2 * qk;
  l.a = 2 * qk + vb;
  l.g = l.a + ab;
  l.beta = l.g + chunk * 4;
  l.stage_bytes = l.beta + chunk * 4;
  l.s16 = stages * l.stage_bytes;
  l.vd = l.s16 + kFusedHeadDim * fused_pitch16(bv) * 2;
  l.pg = l.vd + vb;
  l.bars = l.pg + ab;
  l.bytes = l.bars + 2 * stages * 8;
  return l;
}

// ---------------------------------------------------------------------------------------------------------
// state_pass: final state (and the transition matrix M) of the last n chunks of each sequence.

/// Parameters of state_pass_kernel. Grid: (N * H_v, slices) CTAs, blockIdx.x = n * H_v + h; CTA y
/// owns columns [y·BV, y·BV + BV) of the augmented state [S | M] (128 x 256): S's V = 128 columns,
/// then M's 128 (launched only when m is non-null, `state_pass_slices`).
struct StatePassParams {
  TokenTensor k;     ///< [B, T, H_qk, 128] qkv dtype
  TokenTensor v;     ///< [B, T, H_v, 128] qkv dtype
  TokenTensor a;     ///< A_r [B, T, H_v, C] qkv dtype
  TokenTensor g;     ///< g_cum [B, T, H_v] fp32
  TokenTensor beta;  ///< [B, T, H_v] fp32 or qkv dtype
  /// [N * H_v] chunks to run per (sequence, head): the last n chunks of the sequence (clamped to
  /// its chunk count); null = all chunks. A head runs from h0 only when it runs all chunks;
  /// otherwise from zero (warm-up).
  const int* num_warmup;
  const float* h0;  ///< [N, H_v, 128, 128] fp32 initial states, null = zero
  float* ht;        ///< out [N, H_v, 128, 128] fp32: state after the last chunk (required)
  /// out [N, H_v, 128, 128] fp32 or null: the product of the chunk transitions M = M_n ⋯ M_1 of the
  /// chunks run, computed when the head runs all chunks of its sequence (CP fallback); zeros
  /// otherwise.
  float* m;
  SequenceView seq;  ///< cu_seqlens, num_sequences, tokens_per_row
  int heads_v;       ///< H_v
  int group;         ///< H_v / H_qk
};

/// CTAs per (sequence, head) along grid y: the state's V = 128 columns, and M's 128 with M.
QLA_HOST_DEVICE constexpr int state_pass_slices(int block_v, bool with_m) {
  return (with_m ? 2 * kFusedHeadDim : kFusedHeadDim) / block_v;
}

/// Shared-memory layout of state_pass: per stage k (C, 128), v (C, BV), A_r (C, C) 16-bit; then
/// the fp16 copy of the CTA's state slice (128, BV), X (C, 128), Y (C, BV), g, beta.
struct StatePassLayout {
  int stage_bytes;
  int k, v, a;
  int s16, x, y, g, beta;
  int bytes;
};
QLA_HOST_DEVICE constexpr StatePassLayout state_pass_layout(int chunk, int stages, int block_v) {
  const int kb = chunk * fused_pitch16(kFusedHeadDim) * 2;
  const int vb = chunk * fused_pitch16(block_v) * 2;
  const int ab = chunk * fused_pitch16(chunk) * 2;
  StatePassLayout l{};
  l.k = 0;
  l.v = kb;
  l.a = kb + vb;
  l.stage_bytes = kb + vb + ab;
  l.s16 = stages * l.stage_bytes;
  l.x = l.s16 + kFusedHeadDim * fused_pitch16(block_v) * 2;
  l.y = l.x + kb;
  l.g = l.y + vb;
  l.beta = l.g + chunk * 4;
  l.bytes = l.beta + chunk * 4;
  return l;
}

}  // namespace qla::gdn
