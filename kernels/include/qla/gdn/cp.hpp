// Context parallelism (CP) small kernels: warm-up counts (GDN.md §2.5) and the serial correction of the pieces'
// initial states (§2.6). Host side; device code gdn/cp_warmup.cuh and gdn/cp_correct.cuh.
#pragma once

#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/gdn/cp_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// Config of cp_correct_states_kernel. Label e.g. "bv32".
struct CpCorrectConfig {
  int block_v = 32;  ///< V columns per CTA (16, 32, 64)
  Point to_point() const { return {block_v}; }
  static CpCorrectConfig from_point(const Point& p) { return {p.at(0)}; }
};

/// Space "gdn.cp_warmup" (no axes: one point).
const SpaceDecl& cp_warmup_space();
/// Space "gdn.cp_correct".
const SpaceDecl& cp_correct_space();
cuda::KernelSpec cp_warmup_spec();
cuda::KernelSpec cp_correct_spec(const CpCorrectConfig& c);
/// Grid (pieces), ceil(heads/32)*32 threads.
cuda::LaunchShape cp_warmup_shape(int num_pieces, int heads);
/// Grid (128/BV, heads, raw sequences), 128 threads.
cuda::LaunchShape cp_correct_shape(const CpCorrectConfig& c, int heads, int raw_sequences);

/// FlashQLA's piece length in chunks (GDN.md §3.2): 2^round(log2(3·sqrt(heads·total_chunks/sm_count))), ≥ 4.
int cp_piece_chunks_heuristic(int heads, long long total_chunks, int sm_count);

/// FlashQLA's SM90 rule for turning CP on (GDN.md §2.10), chunks of C tokens: tensor batch B == 1 and
/// (Be·H_v ≤ 40 or (Be·H_v ≤ 56 and max NT ≥ 128)), Be = ΣNT / max NT (the "effective batch").
bool cp_auto_rule(const Problem& p, int chunk);

/// The CP split of a problem's sequences into pieces (GDN.md §3.2): every sequence with more than
/// `piece_chunks` chunks is cut into pieces of exactly piece_chunks·C tokens (the last takes the remainder);
/// shorter ones (also empty ones) stay one piece. Pieces are in sequence order; offsets are flat token rows.
struct CpSplit {
  int piece_chunks = 0;              ///< L, chunks per piece
  std::vector<int> cu;               ///< [P+1] flat token offsets of the pieces (cu[P] = cu_seqlens[N])
  std::vector<int> raw;              ///< [P] raw sequence of each piece
  std::vector<int> is_last;          ///< [P] 1 when the piece ends its raw sequence
  std::vector<int> raw_first_piece;  ///< [N+1] first piece of each raw sequence
  std::vector<int> ht_index;         ///< [P] raw sequence for the last piece (its ht is the user's), else −1
  /// P, the number of pieces (0 for an empty split).
  int pieces() const { return static_cast<int>(raw.size()); }
  /// Whether some sequence was cut (P > N); otherwise CP would only add work.
  bool splits() const { return pieces() > static_cast<int>(raw_first_piece.size()) - 1; }
};
/// Splits `p` into pieces of `piece_chunks` (≥ 1) chunks of `chunk` tokens.
CpSplit cp_split(const Problem& p, int piece_chunks, int chunk);

}  // namespace qla::gdn
