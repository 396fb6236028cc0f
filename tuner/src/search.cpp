#include "qla/tuner/search.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <unordered_set>

#include "qla/error.hpp"

namespace qla::tuner {
namespace {

// Fisher–Yates on mt19937_64 directly: std::shuffle's use of the generator is unspecified, and the
// random strategy must visit the same order for the same seed on every standard library.
std::size_t uniform_below(std::mt19937_64& rng, std::size_t n) {
  return static_cast<std::size_t>(rng() % n);
}

std::vector<Coords> buildable_coords(const SpaceDecl& space, const ArchInfo& arch) {
  std::vector<Coords> out;
  for (const Point& p : space.enumerate(&arch)) out.push_back(*space.coords_of(p));
  return out;
}

/// Walks a precomputed list (exhaustive and random share it; only the order differs).
class ListSearcher final : public Searcher {
 public:
  explicit ListSearcher(std::vector<Coords> order) : order_(std::move(order)) {}
  std::optional<Coords> next() override {
    skip_seeded();
    if (pos_ >= order_.size()) return std::nullopt;
    return order_[pos_++];
  }
  void report(const Coords&, double) override {}
  std::vector<Coords> upcoming(std::size_t n) const override {
    std::vector<Coords> out;
    for (std::size_t i = pos_; i < order_.size() && out.size() < n; ++i)
      if (!seeded_.count(order_[i])) out.push_back(order_[i]);
    return out;
  }
  void seed(const Coords& c, double) override { seeded_.insert(c); }

 private:
  void skip_seeded() {
    while (pos_ < order_.size() && seeded_.count(order_[pos_])) ++pos_;
  }
  std::vector<Coords> order_;
  std::size_t pos_ = 0;
  std::set<Coords> seeded_;
};

/// Simulated annealing with a tabu memory: a proposal is a random unvisited buildable neighbour
/// (one axis moved by one step, skipping over unbuildable values) of the current point; a worse
/// point is accepted with probability exp(−(relative loss) / T) and T cools geometrically. Because
/// a point is never re-proposed, a fully explored neighbourhood sends the walk back to the best
/// point, and when that is exhausted too, to a random unvisited point (a restart).
class AnnealSearcher final : public Searcher {
 public:
  AnnealSearcher(const SpaceDecl& space, const ArchInfo& arch, std::uint64_t seed)
      : space_(space), rng_(seed) {
    for (std::size_t a = 0; a < space.axes.size(); ++a)
      extent_.push_back(static_cast<int>(space.axes[a].values.size()));
    buildable_.assign(space.size(), false);
    for (const Coords& c : buildable_coords(space, arch)) {
      buildable_[flat_index(space, c)] = true;
      ++unvisited_;
    }
  }

  std::optional<Coords> next() override {
    if (unvisited_ == 0) return std::nullopt;
    if (!current_) {
      auto start = space_.coords_of(space_.default_point);
      if (start && is_open(*start)) return propose(*start, /*restart=*/true);
      return propose(random_unvisited(), true);
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::vector<Coords> open = open_neighbours(current_->coords);
      if (!open.empty()) return propose(open[uniform_below(rng_, open.size())], false);
      if (best_ && best_->coords != current_->coords) {
        current_ = best_;  // exhausted here: go back to the best point and look around it
        continue;
      }
      break;
    }
    return propose(random_unvisited(), true);
  }

  void seed(const Coords& c, double cost) override {
    if (is_open(c)) {
      visited_.insert(flat_index(space_, c));
      --unvisited_;
    }
    const Evaluated e{c, cost};
    if (std::isfinite(cost) && (!best_ || better(e, *best_))) {
      best_ = e;
      current_ = e;  // the walk starts here
    }
  }

  void report(const Coords& c, double cost) override {
    const Evaluated e{c, cost};
    if (!best_ || better(e, *best_)) best_ = e;
    if (pending_restart_ || !current_ || !std::isfinite(current_->cost)) {
      if (pending_restart_ || !current_ || std::isfinite(cost)) current_ = e;
    } else if (std::isfinite(cost)) {
      const double loss = (cost - current_->cost) / current_->cost;
      const double t = temperature_;
      std::uniform_real_distribution<double> u(0.0, 1.0);
      if (loss <= 0 || (t > 0 && u(rng_) < std::exp(-loss / t))) current_ = e;
    }
    temperature_ *= kCooling;
  }

 private:
  static constexpr double kInitialTemperature =
      0.03;  // a 3 % worse point is accepted with p = 1/e at first
  static constexpr double kCooling = 0.93;

  bool better(const Evaluated& a, const Evaluated& b) const {
    if (a.cost != b.cost) return a.cost < b.cost;
    return flat_index(space_, a.coords) < flat_index(space_, b.coords);
  }
  bool is_open(const Coords& c) const {
    const std::size_t i = flat_index(space_, c);
    return buildable_[i] && !visited_.count(i);
  }
  Coords propose(const Coords& c, bool restart) {
    visited_.insert(flat_index(space_, c));
    --unvisited_;
    pending_restart_ = restart;
    return c;
  }
  std::vector<Coords> open_neighbours(const Coords& c) const {
    std::vector<Coords> out;
    for (std::size_t a = 0; a < c.size(); ++a) {
      for (int dir : {-1, +1}) {
        Coords n = c;
        // Step over unbuildable values so a hole in the space does not wall a direction off.
        for (n[a] = c[a] + dir; n[a] >= 0 && n[a] < extent_[a]; n[a] += dir) {
          const std::size_t i = flat_index(space_, n);
          if (!buildable_[i]) continue;
          if (!visited_.count(i)) out.push_back(n);
          break;
        }
      }
    }
    return out;
  }
  Coords random_unvisited() {
    std::size_t k = uniform_below(rng_, unvisited_);
    for (std::size_t i = 0; i < buildable_.size(); ++i) {
      if (!buildable_[i] || visited_.count(i)) continue;
      if (k-- == 0) return *space_.coords_of(space_.point_at_flat(i));
    }
    return {};  // unreachable while unvisited_ > 0
  }

  const SpaceDecl& space_;
  std::mt19937_64 rng_;
  std::vector<int> extent_;
  std::vector<bool> buildable_;
  std::unordered_set<std::size_t> visited_;
  std::size_t unvisited_ = 0;
  std::optional<Evaluated> current_;
  std::optional<Evaluated> best_;
  bool pending_restart_ = false;
  double temperature_ = kInitialTemperature;
};

}  // namespace

std::string_view strategy_name(Strategy s) {
  switch (s) {
    case Strategy::kExhaustive:
      return "exhaustive";
    case Strategy::kRandom:
      return "random";
    case Strategy::kAnneal:
      return "anneal";
  }
  return "?";
}

Strategy parse_strategy(std::string_view name) {
  for (Strategy s : {Strategy::kExhaustive, Strategy::kRandom, Strategy::kAnneal})
    if (name == strategy_name(s)) return s;
  throw UserError("--strategy: unknown strategy '" + std::string(name) +
                  "' (use exhaustive, random or anneal)");
}

Budget Budget::parse(const std::string& text) {
  Budget b;
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = used ? text.substr(used) : "";
  if (used == 0 || !(value > 0) || !std::isfinite(value) ||
      (unit != "" && unit != "s" && unit != "m"))
    throw UserError("--budget: '" + text +
                    "' is not a positive trial count (e.g. 200) or time (e.g. 90s, 5m)");
  if (value > (unit.empty() ? 1e9 : 1e7))  // a billion trials, or about four months
    throw UserError("--budget: '" + text + "' is more than anyone can spend");
  if (unit.empty()) {
    if (value != std::floor(value))
      throw UserError("--budget: a trial count must be a whole number, got '" + text + "'");
    b.max_trials = static_cast<std::size_t>(value);
  } else {
    b.max_seconds = unit == "m" ? value * 60 : value;
  }
  return b;
}

std::string Budget::to_string() const {
  std::string s;
  if (max_trials) s += std::to_string(max_trials) + " trials";
  if (max_seconds > 0) {
    if (!s.empty()) s += ", ";
    s += std::to_string(static_cast<long long>(std::llround(max_seconds))) + "s";
  }
  return s.empty() ? "unbounded" : s;
}

std::unique_ptr<Searcher> make_searcher(Strategy strategy, const SpaceDecl& space,
                                        const ArchInfo& arch, std::uint64_t seed) {
  switch (strategy) {
    case Strategy::kExhaustive:
      return std::make_unique<ListSearcher>(buildable_coords(space, arch));
    case Strategy::kRandom: {
      std::vector<Coords> order = buildable_coords(space, arch);
      std::mt19937_64 rng(seed);
      for (std::size_t i = order.size(); i > 1; --i)
        std::swap(order[i - 1], order[uniform_below(rng, i)]);
      return std::make_unique<ListSearcher>(std::move(order));
    }
    case Strategy::kAnneal:
      return std::make_unique<AnnealSearcher>(space, arch, seed);
  }
  return nullptr;
}

std::size_t flat_index(const SpaceDecl& space, const Coords& c) {
  std::size_t i = 0;
  for (std::size_t a = 0; a < space.axes.size(); ++a)
    i = i * space.axes[a].values.size() + static_cast<std::size_t>(c.at(a));
  return i;
}

SearchOutcome run_search(Searcher& searcher, const std::function<double(const Coords&)>& evaluate,
                         const Budget& budget, const std::function<bool()>& stop,
                         const SecondsClock& clock) {
  SearchOutcome out;
  const SecondsClock now = clock ? clock : [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  const double start = now();
  for (;;) {
    if (stop && stop()) {
      out.stopped = true;
      break;
    }
    if (budget.max_trials && out.trials.size() >= budget.max_trials) {
      out.budget_exhausted = true;
      break;
    }
    if (budget.max_seconds > 0 && now() - start >= budget.max_seconds) {
      out.budget_exhausted = true;
      break;
    }
    std::optional<Coords> c = searcher.next();
    if (!c) break;
    const double cost = evaluate(*c);
    searcher.report(*c, cost);
    out.trials.push_back({*c, cost});
    if (std::isfinite(cost) && (!out.best || cost < out.best->cost)) out.best = out.trials.back();
  }
  return out;
}

FinalChoice remeasure_top(const SpaceDecl& space, const std::vector<Coords>& candidates,
                          const std::function<double(const Coords&)>& sample, int rounds,
                          double tie_tolerance, const std::optional<Coords>& preferred) {
  FinalChoice out;
  for (const Coords& c : candidates) out.finalists.push_back({c, {}, 0, 1});
  std::sort(out.finalists.begin(), out.finalists.end(), [&](const Finalist& a, const Finalist& b) {
    return flat_index(space, a.coords) < flat_index(space, b.coords);
  });
  const std::size_t n = out.finalists.size();
  if (n == 0) return out;
  rounds = std::max(rounds, 1);
  for (int r = 0; r < rounds; ++r)
    for (std::size_t j = 0; j < n; ++j) {
      Finalist& f = out.finalists[(static_cast<std::size_t>(r) + j) % n];
      f.samples.push_back(sample(f.coords));
    }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
  };
  std::size_t fastest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    out.finalists[i].median_us = median(out.finalists[i].samples);
    if (out.finalists[i].median_us < out.finalists[fastest].median_us) fastest = i;
  }
  auto paired_ratio = [&](std::size_t i, std::size_t ref) {
    std::vector<double> ratios;
    for (int r = 0; r < rounds; ++r)
      ratios.push_back(out.finalists[i].samples[static_cast<std::size_t>(r)] /
                       out.finalists[ref].samples[static_cast<std::size_t>(r)]);
    return median(ratios);
  };
  out.winner = fastest;
  const auto tied = [&](std::size_t i) { return paired_ratio(i, fastest) <= 1 + tie_tolerance; };
  std::size_t pref = n;
  for (std::size_t i = 0; i < n && preferred; ++i)
    if (out.finalists[i].coords == *preferred) pref = i;
  if (pref < n && tied(pref)) {  // the preferred config within noise of the fastest keeps its place
    out.winner = pref;
  } else {
    for (std::size_t i = 0; i < fastest; ++i)  // else the lowest flat index within noise wins
      if (tied(i)) {
        out.winner = i;
        break;
      }
  }
  for (std::size_t i = 0; i < n; ++i)
    out.finalists[i].ratio_to_winner = paired_ratio(i, out.winner);
  return out;
}

}  // namespace qla::tuner
