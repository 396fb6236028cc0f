// Named problem sets of `qla tune --suite`.
//   qwen35-fwd: FlashQLA's forward benchmark matrix: the nine Qwen3.5 (H_qk, H_v) head configs
//               × 19 packed sequence sets (1×{32K..2K}, ten two-sequence mixes, 8K×4, 4K×8, 2K×4,
//               1K×8); always packed varlen (B = 1, cu_seqlens), h0 given, final state written,
//               bf16, K = V = 128.
//   smoke:      three small problems of the same kind, for a quick end-to-end check.
#pragma once

#include <string>
#include <vector>

#include "qla/gdn/problem.hpp"

namespace qla::tuner {

/// The problems of a suite; throws UserError naming `--suite` for an unknown name.
std::vector<gdn::Problem> suite_problems(const std::string& name);

/// A packed varlen forward problem as in FlashQLA's benchmark.
gdn::Problem packed_problem(const std::vector<std::int64_t>& lengths, int h_qk, int h_v);

}  // namespace qla::tuner
