// Search over a configuration space (qla/space.hpp) on integer coordinates: one index per axis into
// the axis' values. Every strategy proposes only buildable points (SpaceDecl::buildable on the
// target arch) and never the same point twice; the driver `run_search` enforces budgets by trial
// count and by wall time.
//
// Strategies:
//  * exhaustive — every buildable point, in the space's fixed order (last axis fastest);
//  * random     — the buildable points in a seeded random order (without replacement);
//  * anneal     — simulated annealing over ±1 neighbours in one axis, starting at the default
//  point, never
//                 re-proposing a point and restarting from a random unvisited point when a local
//                 optimum's neighbourhood is exhausted. On smooth costs it needs a small fraction
//                 of the space.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qla/space.hpp"

namespace qla::tuner {

/// One index per axis of a SpaceDecl (axis order).
using Coords = std::vector<int>;

enum class Strategy : std::uint8_t { kExhaustive, kRandom, kAnneal };

/// "exhaustive", "random", "anneal".
std::string_view strategy_name(Strategy s);
/// Inverse of strategy_name(); throws UserError naming `--strategy` for unknown text.
Strategy parse_strategy(std::string_view name);

/// How much a search may spend. 0 means unbounded for each limit; the first limit reached stops the
/// search.
struct Budget {
  std::size_t max_trials =
      0;  ///< candidates evaluated (cached/resumed ones included: they are trials too)
  double max_seconds = 0;  ///< wall time from the start of run_search, seconds
  /// Parses "N" (trials) or "Ns" / "Nm" (seconds / minutes); throws UserError naming `--budget`.
  static Budget parse(const std::string& text);
  std::string to_string() const;
};

/// A strategy: proposes coordinates, is told their cost (lower is better; +inf for failed
/// candidates). Contract: next() and report() alternate; every proposal is a buildable point not
/// proposed before.
class Searcher {
 public:
  virtual ~Searcher() = default;
  /// The next point to evaluate; nullopt when the strategy has nothing left.
  virtual std::optional<Coords> next() = 0;
  /// Cost of the point last returned by next().
  virtual void report(const Coords& c, double cost) = 0;
  /// Up to n points the strategy will propose next if nothing changes (for compiling ahead); may be
  /// empty.
  virtual std::vector<Coords> upcoming(std::size_t n) const {
    (void)n;
    return {};
  }
  /// A point evaluated before the search (transfer: the winners of tuned neighbouring problems) and
  /// its cost. It is never proposed; anneal starts its walk from the best seed instead of the
  /// default point.
  virtual void seed(const Coords& c, double cost) = 0;
};

/// Builds a strategy over `space`'s buildable points on `arch`. `seed` drives random and anneal.
std::unique_ptr<Searcher> make_searcher(Strategy strategy, const SpaceDecl& space,
                                        const ArchInfo& arch, std::uint64_t seed);

/// One evaluated point of a search.
struct Evaluated {
  Coords coords;
  double cost = std::numeric_limits<double>::infinity();
};

/// What run_search did.
struct SearchOutcome {
  std::vector<Evaluated> trials;  ///< in evaluation order
  std::optional<Evaluated> best;  ///< lowest finite cost; ties go to the lower flat index
  bool budget_exhausted = false;  ///< stopped by a budget rather than by the strategy or `stop`
  bool stopped = false;           ///< stopped because `stop` returned true
};

/// Seconds on a monotonic clock; the time budget is measured on it (tests inject their own).
using SecondsClock = std::function<double()>;

/// Drives `searcher` until it is done, the budget is spent or `stop()` returns true. `evaluate`
/// returns the cost of a point (it may come from the store: a resumed trial still counts against
/// the trial budget). The time budget runs on `clock` (empty: std::chrono::steady_clock), checked
/// before each trial.
SearchOutcome run_search(Searcher& searcher, const std::function<double(const Coords&)>& evaluate,
                         const Budget& budget, const std::function<bool()>& stop = {},
                         const SecondsClock& clock = {});

/// Flat index of coordinates (last axis fastest): the fixed order used for tie-breaks.
std::size_t flat_index(const SpaceDecl& space, const Coords& c);

// ---- Final re-measurement
// --------------------------------------------------------------------------------

/// One finalist of a search and its paired re-measurement.
struct Finalist {
  Coords coords;
  std::vector<double> samples;  ///< one per round, microseconds
  double median_us = 0;
  double ratio_to_winner =
      1;  ///< median over rounds of (this sample / winner's sample in the same round)
};

/// Result of remeasure_top: the finalists in their fixed order, and the index of the winner among
/// them.
struct FinalChoice {
  std::vector<Finalist> finalists;
  std::size_t winner = 0;
};

/// Re-measures `candidates` with paired, interleaved runs: `rounds` rounds, each taking one sample
/// of every candidate (the starting candidate rotates per round so no one always runs first after a
/// flush). The candidate with the lowest median wins, except that any candidate whose paired ratio
/// to it lies within `tie_tolerance` (relative) counts as tied, and among tied candidates
/// `preferred` wins where it is one of them (the untuned point: a config replaces it only where it
/// is faster by more than the noise), else the lowest flat index. So two runs on the same card pick
/// the same winner unless the difference is above the noise.
FinalChoice remeasure_top(const SpaceDecl& space, const std::vector<Coords>& candidates,
                          const std::function<double(const Coords&)>& sample, int rounds,
                          double tie_tolerance, const std::optional<Coords>& preferred = {});

}  // namespace qla::tuner
