#include "qla/tuner/efficiency.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

namespace qla::tuner {

std::size_t trials_to_within(Strategy strategy, const SpaceDecl& space, const ArchInfo& arch,
                             const std::map<Coords, double>& cost, double tolerance,
                             std::uint64_t seed) {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& [c, t] : cost) best = std::min(best, t);
  auto searcher = make_searcher(strategy, space, arch, seed);
  std::size_t n = 0;
  while (auto c = searcher->next()) {
    ++n;
    const auto it = cost.find(*c);
    const double t = it == cost.end() ? std::numeric_limits<double>::infinity() : it->second;
    if (t <= (1 + tolerance) * best) return n;
    searcher->report(*c, t);
  }
  return n;
}

std::vector<EfficiencyRow> search_efficiency(const Store& store, const KernelIdentity& kernel,
                                             const SpaceDecl& space, const ArchInfo& arch,
                                             std::size_t repeats, double tolerance) {
  std::set<Coords> buildable;
  for (const Point& p : space.enumerate(&arch)) buildable.insert(*space.coords_of(p));
  std::vector<EfficiencyRow> rows;
  for (const TunedEntry& e : store.tuned_entries(kernel)) {
    std::map<Coords, double> cost;
    std::set<Coords> seen;
    for (const TrialRecord& t : store.trials(e.device_digest, kernel, e.problem_value)) {
      const auto c = space.coords_of(t.values);
      if (!c) continue;
      seen.insert(*c);
      if (t.result.status == TrialStatus::kOk && std::isfinite(t.result.time.median_us))
        cost[*c] = t.result.time.median_us;
    }
    if (!std::includes(seen.begin(), seen.end(), buildable.begin(), buildable.end()) ||
        cost.empty())
      continue;
    const auto best = std::min_element(
        cost.begin(), cost.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    for (Strategy s : {Strategy::kExhaustive, Strategy::kRandom, Strategy::kAnneal}) {
      EfficiencyRow r;
      r.device = e.device_name;
      r.problem = e.problem;
      r.strategy = std::string(strategy_name(s));
      r.buildable = buildable.size();
      r.best_config = space.label(space.point_at(best->first));
      r.best_us = best->second;
      r.repeats = s == Strategy::kExhaustive ? 1 : std::max<std::size_t>(repeats, 1);
      std::vector<std::size_t> n;
      for (std::size_t i = 0; i < r.repeats; ++i)
        n.push_back(trials_to_within(s, space, arch, cost, tolerance, 1000 + i));
      std::sort(n.begin(), n.end());
      r.mean_trials =
          static_cast<double>(std::accumulate(n.begin(), n.end(), std::size_t{0})) / n.size();
      r.median_trials = n[n.size() / 2];
      r.worst_trials = n.back();
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

}  // namespace qla::tuner
