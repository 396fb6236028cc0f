// Float64 reference of intra-card context parallelism (CP): the piece split,
// the warm-up counts and states, the transition matrices of fallback heads, the corrected initial
// states, and a CP forward that runs every piece from its corrected state. Every intermediate is
// exposed so that the GPU CP kernels (get_warmup_chunks, the warm-up state pass,
// correct_initial_states) can be tested against it.
//
// Layouts follow gdn_reference.hpp: pieces index P, states [P, h_v, K, V], transitions [P, h_v, K,
// K], per-(piece, head) values [P, h_v]. Token rows are the flat index b * T + t of the problem
// (fixed-length problems are treated as packed sequences of T tokens each).
#pragma once

#include <cstdint>
#include <vector>

#include "qla/gdn/problem.hpp"
#include "qla/ref/gdn_reference.hpp"

namespace qla::ref {

/// How to cut and warm up. Defaults are FlashQLA's Hopper values.
struct CpOptions {
  int chunk = 64;        ///< chunk length in tokens (C); pieces are whole chunks
  int piece_chunks = 0;  ///< chunks per piece (L); 0 = cp_piece_chunks() of the problem
  int num_sms = 132;     ///< SM count fed to the piece-length rule when piece_chunks == 0
  double threshold =
      -10.0;  ///< warm-up stops at the first chunk count whose summed log-decay is < threshold
};

/// The analytic piece length in chunks: L = 2^round(log2(3 sqrt(h_v * total_chunks / num_sms))), at
/// least 4. total_chunks = sum over sequences of ceil(len / chunk).
int cp_piece_chunks(int h_v, std::int64_t total_chunks, int num_sms);

/// Sum over the problem's sequences of ceil(len / chunk).
std::int64_t total_chunks(const gdn::Problem& problem, int chunk);

/// One CP piece (sub-sequence): a run of whole chunks of one raw sequence.
struct CpPiece {
  std::int64_t begin = 0;  ///< first flat token row
  std::int64_t length =
      0;  ///< tokens; piece_chunks * chunk except the raw sequence's last piece (may be 0
          ///< for an empty raw sequence, which keeps exactly one empty piece)
  std::int64_t raw_seq = 0;  ///< index n of the raw sequence it belongs to
  bool first = false;        ///< first piece of its raw sequence (receives the user's h0)
  bool last = false;  ///< last piece of its raw sequence (its final state is the user-visible ht)
};

/// Cuts every raw sequence with more than `piece_chunks` chunks into pieces of exactly piece_chunks
/// * chunk tokens (the last takes the remainder); shorter sequences stay whole. Pieces are in
/// raw-sequence order.
std::vector<CpPiece> cp_split(const gdn::Problem& problem, int piece_chunks, int chunk);

/// Every intermediate of the CP preparation for one forward call.
struct CpPlan {
  int chunk = 64;            ///< C used
  int piece_chunks = 0;      ///< L used (after the rule when the options asked for it)
  double threshold = -10.0;  ///< warm-up threshold used
  std::vector<CpPiece> pieces;
  /// [P, h_v] warm-up chunk count n: walking the piece's chunks from its end backwards and summing
  /// the chunk totals of g, the first count whose sum is < threshold; the piece's chunk count when
  /// never reached (fallback); 0 for the last piece of a raw sequence.
  std::vector<int> warmup_chunks;
  /// [P, h_v] 1 when the threshold was never reached (the whole piece is run and M is used), else
  /// 0.
  std::vector<std::uint8_t> fallback;
  /// [P, h_v, K, V] R: the state after running the last n chunks of the piece from a zero state
  /// (whole piece for fallback heads); zero where n == 0.
  std::vector<double> warmup_states;
  /// [P, h_v, K, K] M = prod over the piece's tokens (latest on the left) of e^{g_t} (I - beta_t
  /// k_t k_t^T) for fallback (piece, head) pairs, zero elsewhere. Exact: S_end = M
  /// S_start + R.
  std::vector<double> transition;
  /// [P, h_v, K, V] initial state each piece runs from: per raw sequence h = h0 (or 0); for its
  /// pieces in order corrected_h0[j] = h, then h = R_j + (fallback_j ? M_j h : 0).
  std::vector<double> corrected_h0;
};

/// Computes the split, warm-up counts, warm-up states, transitions and corrected initial states.
CpPlan cp_prepare(const ForwardInputs& in, const CpOptions& options = {});

/// CP forward: every piece runs the exact recurrence from its corrected initial state; o rows come
/// from the piece that holds them, ht from the last piece of each raw sequence. Differs from
/// forward_recurrent only by the dropped Phi_w S_w terms of non-fallback warm-ups (<=
/// e^threshold relative to the state when every k is unit-norm and beta is in [0, 2]).
ForwardOutputs forward_cp(const ForwardInputs& in, const CpPlan& plan);

}  // namespace qla::ref
