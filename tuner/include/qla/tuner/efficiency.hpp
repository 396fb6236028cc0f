// Search efficiency from stored trials: for a problem whose space was measured exhaustively, replay
// each strategy against the measured costs (no GPU) and count the trials it needs before its best
// so far lies within a tolerance of the exhaustive best. Random and anneal are replayed over
// several seeds. What `qla db efficiency` prints (trials to within 2 % of the exhaustive best).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "qla/space.hpp"
#include "qla/tuner/search.hpp"
#include "qla/tuner/store.hpp"

namespace qla::tuner {

/// One strategy on one exhaustively measured problem.
struct EfficiencyRow {
  std::string device;         ///< device name
  std::string problem;        ///< problem key
  std::string strategy;       ///< "exhaustive", "random", "anneal"
  std::size_t buildable = 0;  ///< buildable points of the space
  std::string best_config;    ///< the exhaustive best
  double best_us = 0;
  std::size_t repeats = 0;        ///< seeds replayed (1 for exhaustive)
  double mean_trials = 0;         ///< trials to within tolerance, mean over seeds
  std::size_t median_trials = 0;  ///< median over seeds
  std::size_t worst_trials = 0;   ///< worst seed
};

/// Trials `strategy` (seeded with `seed`) needs over `space`'s buildable points on `arch` before
/// its best so far costs at most (1 + tolerance) × the lowest finite cost; `cost` maps coords to
/// their measured cost (absent or +inf: failed). The buildable count when it never gets there.
std::size_t trials_to_within(Strategy strategy, const SpaceDecl& space, const ArchInfo& arch,
                             const std::map<Coords, double>& cost, double tolerance,
                             std::uint64_t seed);

/// Every problem of `kernel` in `store` whose buildable points all have a stored trial (an
/// exhaustive tuning), replayed with each strategy; random and anneal over `repeats` seeds. Ordered
/// by device, problem, strategy.
std::vector<EfficiencyRow> search_efficiency(const Store& store, const KernelIdentity& kernel,
                                             const SpaceDecl& space, const ArchInfo& arch,
                                             std::size_t repeats, double tolerance);

}  // namespace qla::tuner
