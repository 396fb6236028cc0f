// JSON form of a gdn::Problem (store rows, worker messages, `qla tune --problem`), and the store's
// key of a problem. Host-only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "qla/gdn/problem.hpp"

namespace qla::tuner {

/// Every field of `p`; `scale` only when set.
nlohmann::json problem_to_json(const gdn::Problem& p);
/// Inverse of problem_to_json; throws UserError naming the field that is missing or has the wrong
/// type, then validates the problem.
gdn::Problem problem_from_json(const nlohmann::json& j);

/// The store's key of a problem: Problem::label() plus ".h0" / ".l2" flags and, for varlen, ":" and
/// the sequence lengths ("varlen2.t32768.h2x8.k128v128.bf16.h0:28672,4096"). Two problems with the
/// same key do the same work.
std::string problem_key(const gdn::Problem& p);

/// Parses the `--problem` text "T", "BxT" or "L1+L2+..." (packed varlen) with heads "...@HQKxHV"
/// (e.g. "1x32768@2x8", "28672+4096@16x32"); K = V = 128, bf16, h0 given, final state written, as
/// in FlashQLA's benchmark. Throws UserError naming `--problem`.
gdn::Problem parse_problem_spec(const std::string& text);

}  // namespace qla::tuner
