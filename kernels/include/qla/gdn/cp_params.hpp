// Params of the context-parallel (CP) small kernels. Builtin types only.
#pragma once

#include "qla/cuda/tensor_map.hpp"
#include "qla/gdn/tensor_views.hpp"

namespace qla::gdn {

/// cp_warmup_counts_kernel: per (piece, head), how many of the piece's last chunks a zero-state
/// warm-up must run so that their summed log decay drops below `threshold`; when it never does, all
/// chunks and fallback = 1 (the exact K×K transition M is then needed). Pieces that end their raw
/// sequence get 0 (their state feeds no one). Grid (num_pieces, ceil(heads/4)), 128 threads, one
/// warp per (piece, head).
struct CpWarmupParams {
  TokenTensor g_cum;  ///< [B,T,heads] fp32 chunk-local cumsum (chunks aligned with the pieces)
  const int* piece_cu_seqlens;  ///< [P+1] flat token offsets of the pieces
  const int* piece_is_last;     ///< [P] 1 when the piece is the last of its raw sequence
  int* num_warmup;              ///< [P, heads] out: chunks to warm up
  int* fallback;                ///< [P, heads] out: 1 when the threshold was never reached
  long long tokens_per_row;     ///< T
  int num_pieces;
  int heads;
  int chunk;        ///< C, tokens per chunk
  float threshold;  ///< e.g. -10 (log space)
};

/// cp_correct_states_kernel: per raw sequence and head, serially over its pieces j:
///   cp_h0[j] = h;  h = ht[j] + (fallback[j] ? M[j] h : 0),   h starting at h0 (or 0).
/// All fp32; states [.., 128, 128] layout [K, V]; M [P, heads, 128, 128] row-major (M h = Σ_i
/// M[k][i] h[i][v]). Grid (128 / BV, heads, N_raw), 128·sk threads (sk per state row).
/// cp_correct's shared staging of M (stage_m = 1): two buffers of kCpStateRows rows, each row
/// kCpStagedMPitch floats (128 + 4 of padding: float4 reads of 8 consecutive rows hit 8 distinct
/// bank groups).
inline constexpr int kCpStateRows = 128;
inline constexpr int kCpStagedMPitch = 132;
/// stage_m = 2: M arrives by tensor copies (TMA) in boxes of kCpMBoxCols columns x 128 rows,
/// 128-byte swizzled, kCpMBoxes a matrix, into two 1024-byte-aligned buffers of 128 x 128 floats.
inline constexpr int kCpMBoxCols = 32;
inline constexpr int kCpMBoxes = kCpStateRows / kCpMBoxCols;

struct CpCorrectParams {
  const float* h0;             ///< [N_raw, heads, K, V] or null (zeros)
  const float* ht;             ///< [P, heads, K, V] warm-up states
  const float* m;              ///< [P, heads, K, K] transitions: read only where fallback is set
  const int* fallback;         ///< [P, heads]
  const int* raw_first_piece;  ///< [N_raw+1] first piece of each raw sequence
  float* cp_h0;                ///< [P, heads, K, V] out: initial state of every piece
  int heads;
  /// stage_m = 2 only: M as a TMA view, rank 3 (column, row, piece·heads + head), boxes of
  /// kCpMBoxCols x 128 x 1 floats, 128-byte swizzle (cp_correct_m_map_desc in
  /// qla/gdn/cp_m_map.hpp).
  cuda::TensorMap m_map;
};

}  // namespace qla::gdn
