// FlashQLA's published benchmark matrix as data, and the selection the
// bench flags make of it. Plain C++17: the bench, its CPU tests and anything else that enumerates
// the matrix read it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qla/gdn/problem.hpp"

namespace qla::tuner {

/// One Qwen3.5 head configuration of the matrix.
struct HeadConfig {
  int h_qk = 0;       ///< query/key heads per card (after tensor parallelism)
  int h_v = 0;        ///< value heads per card, a multiple of h_qk
  std::string model;  ///< FlashQLA's label, e.g. "397B/122B TP8"

  /// "2x8": the form --heads takes and row names use.
  std::string name() const;
};

/// One set of packed sequences (varlen, B = 1) of the matrix.
struct SeqSet {
  std::string name;                   ///< "1x8192", "8192x4", "4096+4096" or, backward, "8K(2)"
  std::vector<std::int64_t> seqlens;  ///< tokens per sequence, in packing order

  std::int64_t tokens() const;
};

/// One benchmark shape: a head configuration with a sequence set.
struct Shape {
  HeadConfig heads;
  SeqSet seqs;

  /// "2x8/1x8192": the part of every benchmark and row name that identifies the shape.
  std::string name() const;
};

/// The forward head configurations, in FlashQLA's table order (9 of them).
const std::vector<HeadConfig>& forward_heads();
/// The forward sequence sets, in FlashQLA's table order (19 of them).
const std::vector<SeqSet>& forward_seqs();
/// The subset FLA's H100 measurements cover (5 head configurations: 2x8, 4x16, 8x32, 16x64,
/// 16x32).
const std::vector<HeadConfig>& headline_heads();
/// The headline sequence sets (those of FLA's H100 measurements): 1x2048, 1x8192, 1x32768, 8192x4.
const std::vector<SeqSet>& headline_seqs();

/// The backward head configurations (16x32, 8x16, 4x8, 2x4), kept for the backward bench.
const std::vector<HeadConfig>& backward_heads();
/// The backward sequence sets: {8K, 32K} tokens × {1, 2, 4, 8} sequences with FlashQLA's random
/// split points, named "8K(1)" ... "32K(8)".
const std::vector<SeqSet>& backward_seqs();

/// Parses --heads: "headline", "all", or a comma list of HxV ("2x8,16x64"). A pair outside the
/// matrix is accepted when H_v is a multiple of H_qk (model "custom"). Throws UserError naming
/// --heads.
std::vector<HeadConfig> select_heads(const std::string& flag);
/// Parses --seqs: "headline", "all", or a comma list of set names ("1x8192,8192x4"). Throws
/// UserError naming
/// --seqs and listing the known names for an unknown one.
std::vector<SeqSet> select_seqs(const std::string& flag);
/// Every (heads, seqs) pair, heads-major, in the given orders.
std::vector<Shape> cross(const std::vector<HeadConfig>& heads, const std::vector<SeqSet>& seqs);

/// The forward problem of FlashQLA's benchmark for `shape`, exactly as `qla generate --seqlens ...
/// --heads ...` builds it (so bench/fla_bench.py's inputs are byte-identical): packed varlen B = 1,
/// K = V = 128, bf16 q/k/v, fp32 g and beta, initial state given, final state written, no l2norm
/// inside the op.
gdn::Problem forward_problem(const Shape& shape);

}  // namespace qla::tuner
