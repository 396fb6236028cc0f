#include "qla/tuner/tuner.hpp"

#include <atomic>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "qla/tuner/fake_kernel.hpp"
#include "qla/tuner/worker.hpp"

namespace qla::tuner {
namespace {

using test::fake_device;
using test::TempDir;
using test::varlen_problem;

TunableKernel fake_kernel() { return {fake_space(), "src1", fake_compile}; }

/// Best synthetic cost over points that build and compile.
std::pair<Point, double> true_optimum(const gdn::Problem& p) {
  const SpaceDecl s = fake_space();
  const ArchInfo arch;
  std::pair<Point, double> best{{}, INFINITY};
  for (const Point& pt : s.enumerate(&arch))
    if (fake_compile(pt).ok && fake_cost_us(pt, p) < best.second) best = {pt, fake_cost_us(pt, p)};
  return best;
}

std::size_t buildable_count() {
  const ArchInfo arch;
  return fake_space().enumerate(&arch).size();
}

TEST(Tuner, AnnealFindsANearOptimalWinnerAndStoresEveryTrial) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  TuneOptions opt;
  opt.strategy = Strategy::kAnneal;
  opt.budget.max_trials = buildable_count() / 4;
  const gdn::Problem p = varlen_problem({16384});
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const TuneOutcome out = tuner.tune(fake_kernel(), p);
  EXPECT_EQ(out.trials, opt.budget.max_trials);
  EXPECT_EQ(out.measured, out.trials);
  ASSERT_TRUE(out.winner);
  EXPECT_LE(fake_cost_us(out.winner->values, p), 1.02 * true_optimum(p).second);
  EXPECT_GT(out.winner->default_median_us, 0);  // the default config was re-measured beside the finalists
  EXPECT_EQ(store.trials(fake_device(), fake_kernel().identity(), p).size(), out.trials);
  ASSERT_TRUE(store.winner(fake_device(), fake_kernel().identity(), p));
}

TEST(Tuner, ExhaustiveStoresCompileErrorsAndFindsTheExactOptimum) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  const gdn::Problem p = varlen_problem({2048, 2048});
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const TuneOutcome out = tuner.tune(fake_kernel(), p);
  const ArchInfo arch;
  std::size_t compile_errors = 0;
  for (const Point& pt : fake_space().enumerate(&arch)) compile_errors += fake_compile(pt).ok ? 0 : 1;
  ASSERT_GT(compile_errors, 0u);
  EXPECT_EQ(out.by_status[static_cast<int>(TrialStatus::kCompileError)], compile_errors);
  EXPECT_EQ(out.by_status[static_cast<int>(TrialStatus::kOk)], buildable_count() - compile_errors);
  EXPECT_EQ(backend.trials_run(), static_cast<int>(buildable_count() - compile_errors));  // never ran uncompiled
  ASSERT_TRUE(out.winner);
  EXPECT_EQ(out.winner->values, true_optimum(p).first);
}

TEST(Tuner, ARerunResumesAndMeasuresNothingItAlreadyHas) {
  TempDir dir;
  const gdn::Problem p = varlen_problem({4096});
  TuneOptions opt;
  opt.strategy = Strategy::kRandom;
  opt.budget.max_trials = 40;
  FakeBackend backend({});
  std::optional<Winner> first;
  {
    Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
    Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
    const TuneOutcome a = tuner.tune(fake_kernel(), p);
    EXPECT_EQ(a.measured, 40u);
    first = a.winner;
  }
  const int ran = backend.trials_run();
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  {
    Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
    const TuneOutcome b = tuner.tune(fake_kernel(), p);
    EXPECT_EQ(b.measured, 0u);
    EXPECT_EQ(b.resumed, 40u);
    EXPECT_TRUE(b.winner_reused);
    ASSERT_TRUE(b.winner && first);
    EXPECT_EQ(b.winner->config, first->config);
    EXPECT_EQ(backend.trials_run(), ran);
  }
  opt.budget.max_trials = 60;  // a larger budget continues where the first run stopped
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const TuneOutcome c = tuner.tune(fake_kernel(), p);
  EXPECT_EQ(c.resumed, 40u);
  EXPECT_EQ(c.measured, 20u);
  EXPECT_FALSE(c.winner_reused);
  // Another device (or source) does not resume from these rows.
  Tuner other(store, fake_device(3), ArchInfo{}, backend, 0, opt);
  EXPECT_EQ(other.tune(fake_kernel(), p).resumed, 0u);
  TunableKernel changed = fake_kernel();
  changed.source_hash = "src2";
  EXPECT_EQ(tuner.tune(changed, p).resumed, 0u);
}

TEST(Tuner, AnInvalidCandidateNeverWins) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  const gdn::Problem p = varlen_problem({4096});
  const Point opt_point = true_optimum(p).first;
  FakeOptions fo;
  fo.faults[fake_space().label(opt_point)] = FakeFault::kInvalid;
  FakeBackend backend(fo);
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const TuneOutcome out = tuner.tune(fake_kernel(), p);
  ASSERT_TRUE(out.winner);
  EXPECT_NE(out.winner->values, opt_point);
  const auto t = store.find_trial(fake_device(), fake_kernel().identity(), p, fake_space().label(opt_point));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->result.status, TrialStatus::kInvalid);
  EXPECT_GT(t->result.errors.at(0).rel_fro, 0.02);
}

TEST(Tuner, CrashingAndHangingCandidatesAreStoredAndTuningGoesOn) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  const SpaceDecl s = fake_space();
  const gdn::Problem p = varlen_problem({4096});
  const Point segv{32, 16, 1, 4, 2}, hang{32, 16, 2, 4, 1}, sticky{32, 32, 1, 4, 1};  // early in the order
  ProcessRunner runner(ProcessRunner::self_worker_argv({"--fault", s.label(segv) + "=segv", "--fault",
                                                        s.label(hang) + "=hang", "--fault",
                                                        s.label(sticky) + "=sticky"}),
                       0.5);
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  opt.budget.max_trials = 200;
  Tuner tuner(store, fake_device(), ArchInfo{}, runner, 0, opt);
  const TuneOutcome out = tuner.tune({s, "src1", {}}, p);
  EXPECT_EQ(out.measured, 200u);
  auto status_of = [&](const Point& pt) {
    return store.find_trial(fake_device(), TunableKernel{s, "src1", {}}.identity(), p, s.label(pt))->result.status;
  };
  EXPECT_EQ(status_of(segv), TrialStatus::kCrashed);
  EXPECT_EQ(status_of(hang), TrialStatus::kTimeout);
  EXPECT_EQ(status_of(sticky), TrialStatus::kCrashed);
  EXPECT_EQ(out.by_status[static_cast<int>(TrialStatus::kOk)], 197u);
  EXPECT_EQ(runner.workers_started(), 4);
  ASSERT_TRUE(out.winner);
}

TEST(Tuner, TheSameWinnerComesOutTwiceUnderNoise) {
  const gdn::Problem p = varlen_problem({8192});
  std::set<std::string> winners;
  for (std::uint64_t seed : {11, 12, 13}) {
    TempDir dir;
    Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
    FakeOptions fo;
    fo.noise = 0.003;
    fo.seed = seed;
    FakeBackend backend(fo);
    TuneOptions opt;
    opt.strategy = Strategy::kExhaustive;
    opt.final_rounds = 15;
    // The four best configs lie within 1.4 % of each other, the fifth 3.5 % away: with a 2 % tie tolerance
    // they are all tied and the first in the space's order must win every time, whatever the noise.
    opt.tie_tolerance = 0.02;
    Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
    const TuneOutcome out = tuner.tune(fake_kernel(), p);
    ASSERT_TRUE(out.winner);
    winners.insert(out.winner->config);
    EXPECT_LE(fake_cost_us(out.winner->values, p), 1.01 * true_optimum(p).second);
  }
  EXPECT_EQ(winners.size(), 1u);
}

TEST(Tuner, StopCommitsWhatWasMeasuredAndDecidesNothing) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  std::atomic<int> n{0};
  TuneOptions opt;
  opt.on_trial = [&](const TuneProgress&) { ++n; };
  opt.stop = [&] { return n >= 7; };
  const gdn::Problem p = varlen_problem({4096});
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const TuneOutcome out = tuner.tune(fake_kernel(), p);
  EXPECT_TRUE(out.stopped);
  EXPECT_FALSE(out.winner);
  EXPECT_EQ(store.trials(fake_device(), fake_kernel().identity(), p).size(), 7u);
  EXPECT_FALSE(store.winner(fake_device(), fake_kernel().identity(), p));
}

TEST(Tuner, CompilesAheadOnHostThreadsOncePerConfig) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  std::mutex mu;
  std::multiset<std::string> compiled;
  std::set<std::thread::id> threads;
  TunableKernel k = fake_kernel();
  k.compile = [&](const Point& pt) {
    std::lock_guard<std::mutex> lock(mu);
    compiled.insert(fake_space().label(pt));
    threads.insert(std::this_thread::get_id());
    return fake_compile(pt);
  };
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  opt.budget.max_trials = 30;
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  tuner.tune(k, varlen_problem({4096}));
  tuner.tune(k, varlen_problem({8192}));  // a second problem reuses the compiled configs
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  EXPECT_GE(compiled.size(), 30u);
  EXPECT_LE(compiled.size(), 30u + opt.compile_ahead);  // at most the look-ahead past the budget
  for (const auto& label : compiled) EXPECT_EQ(compiled.count(label), 1u) << label;
}

}  // namespace
}  // namespace qla::tuner
