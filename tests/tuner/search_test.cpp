#include "qla/tuner/search.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "helpers.hpp"
#include "qla/error.hpp"
#include "qla/tuner/fake_kernel.hpp"

namespace qla::tuner {
namespace {

struct Optimum {
  double cost;
  std::size_t buildable;
};

Optimum exhaustive_optimum(const SpaceDecl& s, const gdn::Problem& p) {
  Optimum o{INFINITY, 0};
  for (const Point& pt : s.enumerate(nullptr)) {
    if (!s.is_buildable(pt, ArchInfo{})) continue;
    ++o.buildable;
    o.cost = std::min(o.cost, fake_cost_us(pt, p));
  }
  return o;
}

SearchOutcome search(Strategy st, const SpaceDecl& s, const gdn::Problem& p, Budget b,
                     std::uint64_t seed, std::set<std::size_t>* seen = nullptr) {
  auto searcher = make_searcher(st, s, ArchInfo{}, seed);
  return run_search(
      *searcher,
      [&](const Coords& c) {
        const Point pt = s.point_at(c);
        EXPECT_TRUE(s.is_buildable(pt, ArchInfo{})) << s.label(pt);
        if (seen) {
          EXPECT_TRUE(seen->insert(flat_index(s, c)).second) << "proposed twice: " << s.label(pt);
        }
        return fake_cost_us(pt, p);
      },
      b);
}

const std::vector<gdn::Problem>& problems() {
  static const std::vector<gdn::Problem> ps = {
      test::varlen_problem({1024}), test::varlen_problem({4096, 4096}),
      test::varlen_problem({32768}), test::varlen_problem({131072}, 16, 64)};
  return ps;
}

TEST(Search, ExhaustiveVisitsEveryBuildablePointOnceAndFindsTheOptimum) {
  const SpaceDecl s = fake_space();
  for (const auto& p : problems()) {
    const Optimum o = exhaustive_optimum(s, p);
    ASSERT_LT(o.buildable, s.size());  // the space has holes
    std::set<std::size_t> seen;
    const SearchOutcome r = search(Strategy::kExhaustive, s, p, {}, 0, &seen);
    EXPECT_EQ(r.trials.size(), o.buildable);
    ASSERT_TRUE(r.best);
    EXPECT_DOUBLE_EQ(r.best->cost, o.cost);
    EXPECT_FALSE(r.budget_exhausted);
  }
}

TEST(Search, RandomIsSeededAndFindsTheOptimumWithAFullBudget) {
  const SpaceDecl s = fake_space();
  const auto& p = problems()[1];
  const Optimum o = exhaustive_optimum(s, p);
  std::set<std::size_t> seen;
  const SearchOutcome a = search(Strategy::kRandom, s, p, {o.buildable, 0}, 7, &seen);
  ASSERT_TRUE(a.best);
  EXPECT_DOUBLE_EQ(a.best->cost, o.cost);
  EXPECT_EQ(seen.size(), o.buildable);
  const SearchOutcome b = search(Strategy::kRandom, s, p, {20, 0}, 7);
  const SearchOutcome c = search(Strategy::kRandom, s, p, {20, 0}, 8);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(a.trials[i].coords, b.trials[i].coords);
  bool differs = false;
  for (std::size_t i = 0; i < 20; ++i) differs |= b.trials[i].coords != c.trials[i].coords;
  EXPECT_TRUE(differs);
}

TEST(Search, AnnealComesWithinTwoPercentInAQuarterOfTheSpace) {
  const SpaceDecl s = fake_space();
  for (const auto& p : problems()) {
    const Optimum o = exhaustive_optimum(s, p);
    const Budget quarter{o.buildable / 4, 0};
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      const SearchOutcome r = search(Strategy::kAnneal, s, p, quarter, seed);
      ASSERT_TRUE(r.best);
      EXPECT_LE(r.trials.size(), quarter.max_trials);
      EXPECT_LE(r.best->cost, 1.02 * o.cost) << p.label() << " seed " << seed;
    }
  }
}

TEST(Search, AnnealWithoutBudgetVisitsEveryBuildablePointExactlyOnce) {
  const SpaceDecl s = fake_space();
  const auto& p = problems()[0];
  std::set<std::size_t> seen;
  const SearchOutcome r = search(Strategy::kAnneal, s, p, {}, 3, &seen);
  EXPECT_EQ(r.trials.size(), exhaustive_optimum(s, p).buildable);
}

TEST(Search, TrialBudgetIsRespectedByEveryStrategy) {
  const SpaceDecl s = fake_space();
  for (Strategy st : {Strategy::kExhaustive, Strategy::kRandom, Strategy::kAnneal}) {
    const SearchOutcome r = search(st, s, problems()[2], {17, 0}, 5);
    EXPECT_EQ(r.trials.size(), 17u) << strategy_name(st);
    EXPECT_TRUE(r.budget_exhausted);
  }
}

TEST(Search, TimeBudgetIsRespected) {
  // A clock that each trial advances by 20 ms: trials start at 0, 0.02, ..., 0.14 s; at 0.16 s the
  // 0.15 s budget is spent. Exactly 8 trials, whatever the machine's speed.
  const SpaceDecl s = fake_space();
  auto searcher = make_searcher(Strategy::kAnneal, s, ArchInfo{}, 1);
  double now = 100.0;
  const SearchOutcome r = run_search(
      *searcher,
      [&](const Coords& c) {
        now += 0.02;
        return fake_cost_us(s.point_at(c), problems()[0]);
      },
      {0, 0.15}, {}, [&] { return now; });
  EXPECT_TRUE(r.budget_exhausted);
  EXPECT_EQ(r.trials.size(), 8u);
}

TEST(Search, StopEndsTheSearch) {
  const SpaceDecl s = fake_space();
  auto searcher = make_searcher(Strategy::kExhaustive, s, ArchInfo{}, 1);
  int n = 0;
  const SearchOutcome r = run_search(
      *searcher, [&](const Coords&) { return static_cast<double>(++n); }, {},
      [&] { return n >= 5; });
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.trials.size(), 5u);
}

TEST(Search, FailedCandidatesNeverWin) {
  const SpaceDecl s = fake_space();
  auto searcher = make_searcher(Strategy::kExhaustive, s, ArchInfo{}, 1);
  const SearchOutcome r = run_search(*searcher,
                                     [&](const Coords& c) {
                                       const Point p = s.point_at(c);
                                       return p[0] == 32 ? INFINITY
                                                         : fake_cost_us(p, problems()[0]) +
                                                               100.0 * p[0];  // c32 would be best
                                     },
                                     {});
  ASSERT_TRUE(r.best);
  EXPECT_NE(s.point_at(r.best->coords)[0], 32);
}

TEST(Search, BudgetParsing) {
  EXPECT_EQ(Budget::parse("200").max_trials, 200u);
  EXPECT_DOUBLE_EQ(Budget::parse("90s").max_seconds, 90.0);
  EXPECT_DOUBLE_EQ(Budget::parse("2m").max_seconds, 120.0);
  for (const char* bad : {"", "0", "-3", "abc", "12x", "1.5", "s"}) {
    EXPECT_THROW(Budget::parse(bad), UserError) << bad;
  }
  EXPECT_EQ(parse_strategy("anneal"), Strategy::kAnneal);
  EXPECT_THROW(parse_strategy("genetic"), UserError);
}

// ---- Final re-measurement and ties ----

/// The winner of remeasure_top over {a, b} (in that order) for seeds 1..20, where `faster` takes
/// 99.8 % of the other's time (within the 1 % tie tolerance) under 0.2 % noise.
std::vector<Coords> tie_winners(const SpaceDecl& s, const Coords& a, const Coords& b,
                                const Coords& faster, const std::optional<Coords>& preferred = {}) {
  std::vector<Coords> winners;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0, 0.002);
    auto sample = [&](const Coords& c) { return (c == faster ? 99.8 : 100.0) * (1 + noise(rng)); };
    const FinalChoice ch = remeasure_top(s, {a, b}, sample, 10, 0.01, preferred);
    EXPECT_EQ(ch.finalists.size(), 2u);
    winners.push_back(ch.finalists[ch.winner].coords);
  }
  return winners;
}

TEST(Remeasure, WithinNoiseTheLowerConfigWinsEveryTime) {
  const SpaceDecl s = fake_space();
  const Coords low = *s.coords_of({64, 32, 2, 8, 2});
  const Coords high = *s.coords_of({64, 64, 2, 8, 2});
  ASSERT_LT(flat_index(s, low), flat_index(s, high));
  // `high` is 0.2 % faster on average: within the tolerance, so `low` must win regardless of noise.
  for (const Coords& w : tie_winners(s, high, low, high)) EXPECT_EQ(w, low);
}

TEST(Remeasure, AClearlyFasterConfigWinsWhateverItsOrder) {
  const SpaceDecl s = fake_space();
  const Coords low = *s.coords_of({64, 32, 2, 8, 2});
  const Coords high = *s.coords_of({64, 64, 2, 8, 2});
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 0.005);
  auto sample = [&](const Coords& c) { return (c == high ? 95.0 : 100.0) * (1 + noise(rng)); };
  const FinalChoice ch = remeasure_top(s, {low, high}, sample, 10, 0.01);
  EXPECT_EQ(ch.finalists[ch.winner].coords, high);
  EXPECT_NEAR(ch.finalists[0].ratio_to_winner, 100.0 / 95.0, 0.02);
}

TEST(Remeasure, WithinNoiseThePreferredConfigKeepsItsPlace) {
  const SpaceDecl s = fake_space();
  const Coords low = *s.coords_of({64, 32, 2, 8, 2});
  const Coords high = *s.coords_of({64, 64, 2, 8, 2});
  ASSERT_LT(flat_index(s, low), flat_index(s, high));
  // `low` is 0.2 % faster on average: within the tolerance, so the preferred `high` (the untuned
  // point) stays, though its flat index is higher.
  for (const Coords& w : tie_winners(s, low, high, low, high)) EXPECT_EQ(w, high);
  // Faster by more than the noise, the other config replaces it.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0, 0.002);
  auto sample = [&](const Coords& c) { return (c == low ? 95.0 : 100.0) * (1 + noise(rng)); };
  const FinalChoice ch = remeasure_top(s, {low, high}, sample, 10, 0.01, high);
  EXPECT_EQ(ch.finalists[ch.winner].coords, low);
}

TEST(Remeasure, SamplesAreInterleavedAndPaired) {
  const SpaceDecl s = fake_space();
  std::vector<Coords> order;
  const std::vector<Coords> cands = {*s.coords_of({64, 32, 2, 8, 2}),
                                     *s.coords_of({64, 64, 2, 8, 2}),
                                     *s.coords_of({32, 64, 2, 8, 2})};
  const FinalChoice ch = remeasure_top(
      s, cands,
      [&](const Coords& c) {
        order.push_back(c);
        return 10.0;
      },
      4, 0.01);
  ASSERT_EQ(order.size(), 12u);
  for (std::size_t r = 0; r < 4; ++r) {  // every round samples every candidate once
    std::set<Coords> round(order.begin() + static_cast<long>(3 * r),
                           order.begin() + static_cast<long>(3 * r + 3));
    EXPECT_EQ(round.size(), 3u);
  }
  EXPECT_NE(order[0], order[3]);  // the first slot rotates
  EXPECT_EQ(ch.finalists[ch.winner].coords,
            *s.coords_of({32, 64, 2, 8, 2}));  // all tied: lowest flat index
}

}  // namespace
}  // namespace qla::tuner
