// Search efficiency from stored trials (tuner/include/qla/tuner/efficiency.hpp) on the fake kernel.
#include "qla/tuner/efficiency.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "helpers.hpp"
#include "qla/tuner/fake_kernel.hpp"
#include "qla/tuner/problem_json.hpp"
#include "qla/tuner/tuner.hpp"

namespace qla::tuner {
namespace {

using test::fake_device;
using test::TempDir;
using test::varlen_problem;

std::map<Coords, double> fake_costs(const gdn::Problem& p) {
  const SpaceDecl s = fake_space();
  std::map<Coords, double> cost;
  for (const Point& pt : s.enumerate(nullptr))
    if (fake_compile(pt).ok) cost[*s.coords_of(pt)] = fake_cost_us(pt, p);
  return cost;
}

TEST(Efficiency, ExhaustiveNeedsThePositionOfTheFirstGoodPointInItsOrder) {
  const SpaceDecl s = fake_space();
  const ArchInfo arch;
  const gdn::Problem p = varlen_problem({16384});
  const auto cost = fake_costs(p);
  double best = INFINITY;
  for (const auto& [c, t] : cost) best = std::min(best, t);
  std::size_t want = 0, n = 0;
  for (const Point& pt : s.enumerate(&arch)) {
    ++n;
    const auto it = cost.find(*s.coords_of(pt));
    if (it != cost.end() && it->second <= 1.02 * best) {
      want = n;
      break;
    }
  }
  ASSERT_GT(want, 0u);
  EXPECT_EQ(trials_to_within(Strategy::kExhaustive, s, arch, cost, 0.02, 1), want);
  // Tolerance 0 asks for the optimum itself; a huge tolerance is met by the first point.
  EXPECT_GE(trials_to_within(Strategy::kExhaustive, s, arch, cost, 0.0, 1), want);
  EXPECT_EQ(trials_to_within(Strategy::kRandom, s, arch, cost, 1e9, 7), 1u);
}

TEST(Efficiency, ReplaysOnlyExhaustivelyTunedProblemsAndAnnealNeedsAQuarter) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  opt.transfer = 0;
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const TunableKernel k{fake_space(), "src1", fake_compile};
  const gdn::Problem a = varlen_problem({2048}), b = varlen_problem({65536}, 4, 16);
  tuner.tune(k, a);
  tuner.tune(k, b);
  opt.budget.max_trials = 10;  // a partial tuning is not a baseline: skipped
  Tuner partial(store, fake_device(), ArchInfo{}, backend, 0, opt);
  partial.tune(k, varlen_problem({8192}));

  const auto rows = search_efficiency(store, k.identity(), k.space, ArchInfo{}, 10, 0.02);
  ASSERT_EQ(rows.size(), 6u);  // 2 problems x 3 strategies
  const ArchInfo arch;
  const std::size_t buildable = k.space.enumerate(&arch).size();
  for (const EfficiencyRow& r : rows) {
    SCOPED_TRACE(r.problem + " " + r.strategy);
    EXPECT_TRUE(r.problem == problem_key(a) || r.problem == problem_key(b));
    EXPECT_EQ(r.buildable, buildable);
    EXPECT_EQ(r.repeats, r.strategy == "exhaustive" ? 1u : 10u);
    EXPECT_GE(r.median_trials, 1u);
    EXPECT_LE(r.worst_trials, buildable);
    EXPECT_LE(r.mean_trials, static_cast<double>(r.worst_trials));
    if (r.strategy == "anneal") {
      EXPECT_LE(r.mean_trials, buildable / 4.0);
    }
  }
}

}  // namespace
}  // namespace qla::tuner
