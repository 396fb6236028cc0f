// The GDN chunked-prefill problem: what one call of the operator computes.
// Plain C++17, shared by the reference, the kernels, the tuner, the bench and the generated header.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "qla/dtype.hpp"

namespace qla::gdn {

/// The most elements one tensor of a problem may hold (2^40: far above any GPU's memory, far below
/// overflow).
inline constexpr std::int64_t kMaxElements = std::int64_t{1} << 40;

/// The product of `extents`, checked: UserError naming `what` when an extent is negative or the
/// product exceeds kMaxElements (so it never wraps).
std::int64_t checked_elements(std::initializer_list<std::int64_t> extents, const char* what);

/// Shapes, dtypes and flags of one GDN forward/backward call.
///
/// Tensors are token-major: q, k `[B, T, h_qk, k_dim]`, v and o `[B, T, h_v, v_dim]`, g and beta
/// `[B, T, h_v]`, states `[N, h_v, k_dim, v_dim]` (layout [K, V]). Value head h reads qk head `h /
/// (h_v / h_qk)`. Sequences: fixed-length (cu_seqlens empty: N = B sequences of T tokens) or packed
/// varlen (B == 1, N + 1 offsets into T; tokens after cu_seqlens[N] are padding).
struct Problem {
  std::int64_t batch = 1;   ///< B, rows of the token-major tensors; 1 for varlen
  std::int64_t tokens = 0;  ///< T, tokens per row (packed total incl. padding for varlen)
  std::vector<std::int64_t> cu_seqlens;  ///< [N+1] sequence offsets when varlen, empty otherwise
  int h_qk = 1;                          ///< query/key heads (H_qk, "Hg")
  int h_v = 1;                           ///< value heads (H_v, "H"), a multiple of h_qk
  int k_dim = 128;                       ///< K, query/key head dimension
  int v_dim = 128;                       ///< V, value head dimension
  DType qkv_dtype = DType::kBF16;        ///< q, k, v and o
  DType gate_dtype = DType::kF32;        ///< g (log-space decay per token and value head)
  DType beta_dtype = DType::kF32;        ///< beta
  bool initial_state = false;            ///< h0 given, fp32 [N, h_v, K, V]
  bool final_state = true;               ///< final state written, fp32 [N, h_v, K, V]
  bool l2norm_qk = false;                ///< q, k l2-normalised per head vector inside the op
  std::optional<double> scale;           ///< output scale; K^-1/2 when unset

  bool is_varlen() const { return !cu_seqlens.empty(); }
  /// N: sequences (B for fixed-length, cu_seqlens.size() - 1 for varlen).
  std::int64_t num_sequences() const;
  /// First token of sequence n in the flat token index b * T + t.
  std::int64_t seq_begin(std::int64_t n) const;
  /// Tokens of sequence n (may be 0 in varlen).
  std::int64_t seq_length(std::int64_t n) const;
  /// B * T, rows of the flattened token-major tensors.
  std::int64_t total_tokens() const { return batch * tokens; }
  /// Tokens that belong to some sequence (excludes varlen padding).
  std::int64_t valid_tokens() const;
  /// Tokens of the longest sequence (0 when there is none): the chunk forward's critical path.
  std::int64_t longest_sequence() const;
  /// Value heads per qk head.
  int group_size() const { return h_qk > 0 ? h_v / h_qk : 0; }
  double effective_scale() const;

  /// Throws UserError naming what is wrong: non-positive sizes, h_v % h_qk != 0, varlen with B !=
  /// 1, cu_seqlens not starting at 0, decreasing, or ending past T.
  void validate() const;

  /// Short label, e.g. "b1.t8192.h2x8.k128v128.bf16" or "varlen3.t8192.h2x8..." for varlen.
  std::string label() const;
  /// The shape class a forward plan serves (qla/gdn/plan.hpp): heads, dims, dtypes, flags and
  /// scale, without the sequences; e.g. "h2x8.k128v128.bf16.g-f32.b-bf16.h0.ht.s0.0883883".
  std::string class_label() const;
  /// The key a tuning store and a deployment header file the problem under: label() plus ".h0" with
  /// an initial state, ".l2" with q/k normalisation, and for varlen ":" and the sequence lengths.
  std::string key() const;
};

}  // namespace qla::gdn
