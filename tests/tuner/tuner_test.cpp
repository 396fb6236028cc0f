#include "qla/tuner/tuner.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

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
  EXPECT_GT(out.winner->default_median_us,
            0);  // the default config was re-measured beside the finalists
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
  for (const Point& pt : fake_space().enumerate(&arch))
    compile_errors += fake_compile(pt).ok ? 0 : 1;
  ASSERT_GT(compile_errors, 0u);
  EXPECT_EQ(out.by_status[static_cast<int>(TrialStatus::kCompileError)], compile_errors);
  EXPECT_EQ(out.by_status[static_cast<int>(TrialStatus::kOk)], buildable_count() - compile_errors);
  EXPECT_EQ(backend.trials_run(),
            static_cast<int>(buildable_count() - compile_errors));  // never ran uncompiled
  ASSERT_TRUE(out.winner);
  EXPECT_EQ(out.winner->values, true_optimum(p).first);
}

TEST(Tuner, AResumedSearchWalksTheSamePathAsAnUninterruptedOne) {
  // The searcher must see a resumed trial's stored result as it saw it when it was measured: then a
  // search stopped at 25 trials and resumed to 50 proposes exactly the configs one uninterrupted
  // 50-trial search does (same seed, noise-free fake kernel). A resume that lost the stored times
  // would steer the walk elsewhere.
  TempDir dir;
  const gdn::Problem p = varlen_problem({8192});
  TuneOptions opt;
  opt.strategy = Strategy::kAnneal;
  FakeBackend backend({});
  auto configs = [&](const Store& st) {
    std::set<std::string> out;
    for (const TrialRecord& t : st.trials(fake_device(), fake_kernel().identity(), p))
      out.insert(t.config);
    return out;
  };
  Store resumed = Store::open(dir.file("resumed.sqlite"), Store::Mode::kReadWrite);
  opt.budget.max_trials = 25;
  Tuner(resumed, fake_device(), ArchInfo{}, backend, 0, opt).tune(fake_kernel(), p);
  opt.budget.max_trials = 50;
  const TuneOutcome second =
      Tuner(resumed, fake_device(), ArchInfo{}, backend, 0, opt).tune(fake_kernel(), p);
  EXPECT_EQ(second.resumed, 25u);
  EXPECT_EQ(second.measured, 25u);
  Store straight = Store::open(dir.file("straight.sqlite"), Store::Mode::kReadWrite);
  const TuneOutcome once =
      Tuner(straight, fake_device(), ArchInfo{}, backend, 0, opt).tune(fake_kernel(), p);
  EXPECT_EQ(once.measured, 50u);
  EXPECT_EQ(configs(resumed), configs(straight));
  ASSERT_TRUE(second.winner && once.winner);
  EXPECT_EQ(second.winner->config, once.winner->config);
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
  std::set<std::string> first_run;
  for (const TrialRecord& t : store.trials(fake_device(), fake_kernel().identity(), p))
    first_run.insert(t.config);
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const TuneOutcome c = tuner.tune(fake_kernel(), p);
  EXPECT_EQ(c.resumed, 40u);
  EXPECT_EQ(c.measured, 20u);
  EXPECT_FALSE(c.winner_reused);
  // The extended run's winner is the best of all 60 trials, also when that one was measured by the
  // first run (the fake kernel is noise-free; with this seed the best lies in the first run).
  double best_first = INFINITY, best_new = INFINITY;
  for (const TrialRecord& t : store.trials(fake_device(), fake_kernel().identity(), p)) {
    if (t.result.status != TrialStatus::kOk) continue;
    (first_run.count(t.config) ? best_first : best_new) =
        std::min(first_run.count(t.config) ? best_first : best_new, t.result.time.median_us);
  }
  ASSERT_LT(best_first, best_new) << "the fixture no longer puts the best point in the first run";
  ASSERT_TRUE(c.winner);
  EXPECT_DOUBLE_EQ(fake_cost_us(c.winner->values, p), best_first);
  EXPECT_LE(fake_cost_us(c.winner->values, p), fake_cost_us(first->values, p));
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
  const auto t =
      store.find_trial(fake_device(), fake_kernel().identity(), p, fake_space().label(opt_point));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->result.status, TrialStatus::kInvalid);
  EXPECT_GT(t->result.errors.at(0).rel_fro, 0.02);
}

TEST(Tuner, CrashingAndHangingCandidatesAreStoredAndTuningGoesOn) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  const SpaceDecl s = fake_space();
  const gdn::Problem p = varlen_problem({4096});
  const Point segv{32, 16, 1, 4, 2}, hang{32, 16, 2, 4, 1},
      sticky{32, 32, 1, 4, 1};  // early in the order
  ProcessRunner runner(ProcessRunner::self_worker_argv({"--fault", s.label(segv) + "=segv",
                                                        "--fault", s.label(hang) + "=hang",
                                                        "--fault", s.label(sticky) + "=sticky"}),
                       // The hang ends only by this watchdog; a healthy fake trial takes
                       // microseconds, so 5 s leaves a slow machine thousands of times the room.
                       5.0);
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  opt.budget.max_trials = 200;
  Tuner tuner(store, fake_device(), ArchInfo{}, runner, 0, opt);
  const TuneOutcome out = tuner.tune({s, "src1", {}}, p);
  EXPECT_EQ(out.measured, 200u);
  auto status_of = [&](const Point& pt) {
    return store.find_trial(fake_device(), TunableKernel{s, "src1", {}}.identity(), p, s.label(pt))
        ->result.status;
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
    // The four best configs lie within 1.4 % of each other, the fifth 3.5 % away: with a 2 % tie
    // tolerance they are all tied and the first in the space's order must win every time, whatever
    // the noise.
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

// A joint space (the op plan): each candidate runs with a member kernel's best config at the
// candidate's chunk size; trials carry the members in their labels; the winner's member becomes the
// member kernel's winner.
class JointRunner final : public TrialRunner {
 public:
  explicit JointRunner(FakeBackend& fake) : fake_(fake) {}
  TrialResult run_trial(const TrialRequest& r) override {
    if (r.kernel != "test.plan") return fake_.run_trial(r);
    requests.push_back(r);
    TrialResult t;
    t.time.median_us = t.time.min_us = t.time.max_us = cost(r);
    t.time.samples = 10;
    return t;
  }
  double sample(const TrialRequest& r) override {
    return r.kernel == "test.plan" ? cost(r) : fake_.sample(r);
  }
  /// The member's own cost plus a penalty for CP on (axis 1).
  static double cost(const TrialRequest& r) {
    const Point member =
        r.members.count("test.fake") ? r.members.at("test.fake") : fake_space().default_point;
    return fake_cost_us(member, r.problem) + (r.config[1] == 1 ? 3.0 : 0.0);
  }
  std::vector<TrialRequest> requests;

 private:
  FakeBackend& fake_;
};

TunableKernel joint_kernel(const Store& store) {
  TunableKernel plan;
  plan.space.kernel = "test.plan";
  plan.space.runtime = true;
  plan.space.axes = {{"chunk", "c", {64, 32}, "shared chunk size"},
                     {"cp", "cp", {0, 1}, "context parallelism"}};
  plan.space.default_point = {64, 0};
  plan.source_hash = "plan-src";
  const KernelIdentity member = fake_kernel().identity();
  plan.members = [&store, member](const gdn::Problem& p, const Point& v) {
    Members out;
    double best = INFINITY;
    for (const TrialRecord& t : store.trials(fake_device(), member, p))
      if (t.result.status == TrialStatus::kOk && t.values[0] == v[0] &&
          t.result.time.median_us < best) {
        best = t.result.time.median_us;
        out["test.fake"] = {member, t.config, t.values,
                            fake_space().label(fake_space().default_point)};
      }
    return out;
  };
  return plan;
}

TuneOptions exhaustive_options() {
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  opt.budget.max_trials = 1000;
  return opt;
}

/// Tunes the member kernel first (annealing starts at its default config, so the untuned trial
/// exists).
TuneOutcome tune_member(Store& store, TrialRunner& runner, const gdn::Problem& p,
                        std::size_t trials) {
  TuneOptions opt = exhaustive_options();
  opt.strategy = Strategy::kAnneal;
  opt.budget.max_trials = trials;
  return Tuner(store, fake_device(), ArchInfo{}, runner, 0, opt).tune(fake_kernel(), p);
}

TEST(Tuner, AJointSpaceRunsWithItsMembersAndItsWinnerFixesTheirs) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend fake({});
  JointRunner runner(fake);
  const TuneOptions opt = exhaustive_options();
  const gdn::Problem p = varlen_problem({16384});
  Tuner tuner(store, fake_device(), ArchInfo{}, runner, 0, opt);
  ASSERT_TRUE(tune_member(store, runner, p, 24).winner);
  const TunableKernel plan = joint_kernel(store);
  {
    // Even a budget of 2 measures the default at each value of the first axis (the chunk size).
    TempDir other;
    Store small = Store::open(other.file("s.sqlite"), Store::Mode::kReadWrite);
    TuneOptions two = opt;
    two.strategy = Strategy::kAnneal;
    two.budget.max_trials = 2;
    Tuner t2(small, fake_device(), ArchInfo{}, runner, 0, two);
    const TuneOutcome o2 = t2.tune(joint_kernel(small), p);
    EXPECT_EQ(o2.seeded, 2u);
    std::set<Point> tried;
    for (const TrialRecord& t : small.trials(fake_device(), plan.identity(), p))
      tried.insert(t.values);
    EXPECT_EQ(tried, (std::set<Point>{{64, 0}, {32, 0}}));
    runner.requests.clear();
  }
  const TuneOutcome out = tuner.tune(plan, p);
  ASSERT_EQ(out.measured, 4u);
  ASSERT_TRUE(out.winner);

  // Every candidate ran with the fastest member trial at its chunk size, and says so in its label.
  for (const TrialRequest& r : runner.requests) {
    ASSERT_EQ(r.members.count("test.fake"), 1u);
    EXPECT_EQ(r.members.at("test.fake")[0], r.config[0]);
  }
  for (const TrialRecord& t : store.trials(fake_device(), plan.identity(), p))
    EXPECT_EQ(t.config, candidate_label(plan.space, t.values, plan.members(p, t.values)));
  EXPECT_NE(out.winner->config.find(" [test.fake=c"), std::string::npos) << out.winner->config;

  // The plan's winner: CP off, at the chunk size whose best member is fastest.
  const double c64 = JointRunner::cost(
      {"test.plan", p, {64, 0}, {{"test.fake", plan.members(p, {64, 0}).at("test.fake").values}}});
  const double c32 = JointRunner::cost(
      {"test.plan", p, {32, 0}, {{"test.fake", plan.members(p, {32, 0}).at("test.fake").values}}});
  EXPECT_EQ(out.winner->values, (Point{c64 <= c32 ? 64 : 32, 0}));
  const Point member_at_winner = plan.members(p, out.winner->values).at("test.fake").values;
  const auto member_winner = store.winner(fake_device(), fake_kernel().identity(), p);
  ASSERT_TRUE(member_winner);
  EXPECT_EQ(member_winner->values, member_at_winner);
  EXPECT_GT(member_winner->default_median_us,
            0);  // the untuned op, from the member's default-config trial
  // The plan's default is the untuned op too, not its default point with tuned members.
  const auto untuned = store.find_trial(fake_device(), fake_kernel().identity(), p,
                                        fake_space().label(fake_space().default_point));
  ASSERT_TRUE(untuned);
  EXPECT_EQ(out.winner->default_median_us, untuned->result.time.median_us);

  // A rerun measures nothing; a better member trial at c32 makes the c32 candidates new trials.
  runner.requests.clear();
  EXPECT_EQ(tuner.tune(plan, p).measured, 0u);
  TrialRecord better;
  better.kernel = fake_kernel().identity();
  better.problem = p;
  for (const Point& v : fake_space().enumerate())
    if (v[0] == 32 && !store.find_trial(fake_device(), better.kernel, p, fake_space().label(v)))
      better.values = v;
  ASSERT_FALSE(better.values.empty());
  better.config = fake_space().label(better.values);
  better.result.time.median_us = 1e-3;
  better.result.time.samples = 10;
  ASSERT_TRUE(store.put_trial(fake_device(), better));
  const TuneOutcome again = tuner.tune(plan, p);
  EXPECT_EQ(again.measured, 2u);
  for (const TrialRequest& r : runner.requests) EXPECT_EQ(r.config[0], 32);
}

// A plan's "default" comes from the baseline member's untuned-config trial, even when another
// member (first in id order) holds a default-config trial: that one timed the op under older
// untuned rules.
TEST(Tuner, APlansDefaultComesFromTheBaselineMemberFirst) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend fake({});
  JointRunner runner(fake);
  const gdn::Problem p = varlen_problem({16384});
  Tuner tuner(store, fake_device(), ArchInfo{}, runner, 0, exhaustive_options());
  ASSERT_TRUE(tune_member(store, runner, p, 8).winner);
  const KernelIdentity stale{"test.aaa", "aaa-src", "aaa-space"};
  TrialRecord old;
  old.kernel = stale;
  old.problem = p;
  old.values = {1};
  old.config = "x1";
  old.result.time.median_us = old.result.time.min_us = old.result.time.max_us = 999.0;
  old.result.time.samples = 10;
  ASSERT_TRUE(store.put_trial(fake_device(), old));
  TunableKernel plan = joint_kernel(store);
  const auto fake_members = plan.members;
  plan.members = [fake_members, stale](const gdn::Problem& q, const Point& v) {
    Members out = fake_members(q, v);
    for (auto& [id, m] : out) m.baseline = true;
    out["test.aaa"] = {stale, "x1", {1}, "x1", false};
    return out;
  };
  const TuneOutcome out = tuner.tune(plan, p);
  ASSERT_TRUE(out.winner);
  const auto untuned = store.find_trial(fake_device(), fake_kernel().identity(), p,
                                        fake_space().label(fake_space().default_point));
  ASSERT_TRUE(untuned);
  EXPECT_EQ(out.winner->default_median_us, untuned->result.time.median_us);
  EXPECT_NE(out.winner->default_median_us, 999.0);
}

TEST(Tuner, TransferEvaluatesTheNearestTunedNeighboursWinnersFirst) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const gdn::Problem near = varlen_problem({16384}), far = varlen_problem({1024}),
                     other_class = varlen_problem({8192}, 4, 16);
  const auto near_win = tuner.tune(fake_kernel(), near).winner;
  const auto far_win = tuner.tune(fake_kernel(), far).winner;
  ASSERT_TRUE(near_win && far_win);
  ASSERT_NE(near_win->values, far_win->values);  // the fake's best block_v grows with tokens
  tuner.tune(fake_kernel(), other_class);

  // 8192 tokens: 16384 is one doubling away, 1024 three; the other head class never counts.
  opt.budget.max_trials = 2;
  Tuner warm(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const gdn::Problem p = varlen_problem({8192});
  const TuneOutcome out = warm.tune(fake_kernel(), p);
  EXPECT_EQ(out.seeded, 2u);
  EXPECT_EQ(out.transferred, 2u);
  EXPECT_EQ(out.trials, 2u);
  std::set<Point> tried;
  for (const TrialRecord& t : store.trials(fake_device(), fake_kernel().identity(), p))
    tried.insert(t.values);
  EXPECT_EQ(tried, (std::set<Point>{near_win->values, far_win->values}));

  // transfer = 0: a cold search (exhaustive order) that never looks at the neighbours.
  opt.transfer = 0;
  Tuner cold(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const gdn::Problem q = varlen_problem({8000});
  const TuneOutcome cold_out = cold.tune(fake_kernel(), q);
  EXPECT_EQ(cold_out.seeded, 0u);
  for (const TrialRecord& t : store.trials(fake_device(), fake_kernel().identity(), q))
    EXPECT_EQ(t.values[0], 32) << t.config;  // the first points of the space's order
}

TEST(Tuner, ARetuneAfterASourceChangeEvaluatesTheProblemsPreviousWinnerFirst) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  const gdn::Problem p = varlen_problem({4096}), q = varlen_problem({8192});
  Tuner first(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const auto before = first.tune(fake_kernel(), p).winner;
  ASSERT_TRUE(before);
  ASSERT_EQ(before->values, true_optimum(p).first);
  ASSERT_NE(before->values, fake_space().enumerate(nullptr).front());  // not the search's first

  // New sources: with a budget of one trial, that trial is the previous winner.
  TunableKernel changed = fake_kernel();
  changed.source_hash = "src2";
  opt.budget.max_trials = 1;
  Tuner retune(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const TuneOutcome out = retune.tune(changed, p);
  EXPECT_EQ(out.seeded, 1u);
  EXPECT_EQ(out.recalled, 1u);
  EXPECT_EQ(out.transferred, 0u);
  EXPECT_EQ(out.measured, 1u);
  ASSERT_TRUE(out.winner);
  EXPECT_EQ(out.winner->values, before->values);
  // A rerun seeds the same point and measures nothing.
  const TuneOutcome again = retune.tune(changed, p);
  EXPECT_EQ(again.recalled, 1u);
  EXPECT_EQ(again.measured, 0u);

  // Only this problem's own winner on this device, and only with transfer on.
  Tuner other_device(store, fake_device(3), ArchInfo{}, backend, 0, opt);
  EXPECT_EQ(other_device.tune(changed, p).recalled, 0u);
  EXPECT_EQ(retune.tune(changed, q).recalled, 0u);  // q was never tuned under src1
  changed.source_hash = "src3";
  opt.transfer = 0;
  Tuner cold(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const TuneOutcome cold_out = cold.tune(changed, p);
  EXPECT_EQ(cold_out.recalled, 0u);
  EXPECT_EQ(cold_out.seeded, 0u);
}

TEST(Tuner, TheUntunedBaselineIsMeasuredFirstAndIsTheWinnersDefault) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  TuneOptions opt;
  opt.strategy = Strategy::kAnneal;
  opt.budget.max_trials = 12;
  TunableKernel k = fake_kernel();
  const Point untuned{64, 128, 2, 8, 2};  // what "the op" would run, not the space's default
  ASSERT_NE(untuned, k.space.default_point);
  k.baseline = [&](const gdn::Problem&) { return untuned; };
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const gdn::Problem p = varlen_problem({4096});
  const TuneOutcome out = tuner.tune(k, p);
  EXPECT_EQ(out.seeded, 1u);
  EXPECT_EQ(out.transferred, 0u);
  ASSERT_TRUE(store.find_trial(fake_device(), k.identity(), p, k.space.label(untuned)));
  ASSERT_TRUE(out.winner);
  if (out.winner->values != untuned) {
    EXPECT_GT(out.winner->default_median_us, 0);  // re-measured beside the finalists as the default
  }
}

TEST(Tuner, AlternativesAreMeasuredRightAfterTheBaseline) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  TuneOptions opt;
  opt.strategy = Strategy::kAnneal;
  opt.budget.max_trials = 2;
  TunableKernel k = fake_kernel();
  const Point untuned{64, 128, 2, 8, 2}, other{32, 64, 3, 4, 1};
  ASSERT_TRUE(k.space.contains(other) && k.space.is_buildable(other, ArchInfo{}));
  k.baseline = [&](const gdn::Problem&) { return untuned; };
  // The baseline again and a point outside the space are dropped, not measured twice or tried.
  k.alternatives = [&](const gdn::Problem&) {
    return std::vector<Point>{untuned, Point{48, 64, 3, 4, 1}, other};
  };
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const gdn::Problem p = varlen_problem({4096});
  const TuneOutcome out = tuner.tune(k, p);
  EXPECT_EQ(out.seeded, 2u);
  EXPECT_EQ(out.trials, 2u);
  std::set<Point> tried;
  for (const TrialRecord& t : store.trials(fake_device(), k.identity(), p)) tried.insert(t.values);
  EXPECT_EQ(tried, (std::set<Point>{untuned, other}));
}

TEST(Tuner, EachOpIsTimedOnceAsItsRepresentative) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  TunableKernel k = fake_kernel();
  // Pretend the unroll axis does nothing: its first value represents the rest.
  k.canonical = [](const gdn::Problem&, const Point& p) {
    Point c = p;
    c[4] = 1;
    return c;
  };
  const Point untuned{64, 128, 2, 8, 2}, untuned_op{64, 128, 2, 8, 1};
  k.baseline = [&](const gdn::Problem&) { return untuned; };
  // An alternative that runs the baseline's op is not measured again.
  k.alternatives = [&](const gdn::Problem&) { return std::vector<Point>{{64, 128, 2, 8, 4}}; };
  std::size_t ops = 0;  // buildable points with unroll 1
  const ArchInfo arch;
  for (const Point& pt : k.space.enumerate(&arch)) ops += pt[4] == 1;
  const auto check_store = [&](const gdn::Problem& p, std::size_t trials) {
    const auto stored = store.trials(fake_device(), k.identity(), p);
    EXPECT_EQ(stored.size(), trials) << "every trial a different op";
    for (const TrialRecord& t : stored) EXPECT_EQ(t.values[4], 1) << t.config;
    EXPECT_TRUE(store.find_trial(fake_device(), k.identity(), p, k.space.label(untuned_op)));
  };
  {  // Exhaustive: every op once, the baseline as its representative.
    TuneOptions opt;
    opt.strategy = Strategy::kExhaustive;
    opt.transfer = 0;
    Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
    const gdn::Problem p = varlen_problem({4096});
    const TuneOutcome out = tuner.tune(k, p);
    EXPECT_EQ(out.seeded, 1u);
    EXPECT_EQ(out.trials, ops);
    check_store(p, ops);
  }
  {  // Anneal: its ±1 steps along unroll land on timed ops, which cost no trial of the budget.
    TuneOptions opt;
    opt.strategy = Strategy::kAnneal;
    opt.transfer = 0;
    opt.budget.max_trials = 12;
    Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
    const gdn::Problem p = varlen_problem({8192});
    const TuneOutcome out = tuner.tune(k, p);
    EXPECT_EQ(out.trials, 12u);
    check_store(p, 12);
  }
}

TEST(Tuner, NeighboursWinnersAreSeededAsTheOpsTheyRunHere) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend({});
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  Tuner cold(store, fake_device(), ArchInfo{}, backend, 0, opt);
  // Neighbours tuned without a representative map: their winners' unroll is the fake's best, 2.
  const auto near_win = cold.tune(fake_kernel(), varlen_problem({16384})).winner;
  const auto far_win = cold.tune(fake_kernel(), varlen_problem({1024})).winner;
  ASSERT_TRUE(near_win && far_win);
  ASSERT_NE(near_win->values[4], 1);
  TunableKernel k = fake_kernel();
  k.canonical = [](const gdn::Problem&, const Point& p) {
    Point c = p;
    c[4] = 1;
    return c;
  };
  opt.budget.max_trials = 2;
  Tuner warm(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const gdn::Problem p = varlen_problem({8192});
  const TuneOutcome out = warm.tune(k, p);
  EXPECT_EQ(out.transferred, 2u);
  std::set<Point> tried;
  for (const TrialRecord& t : store.trials(fake_device(), k.identity(), p)) tried.insert(t.values);
  const auto as_here = [](Point v) {
    v[4] = 1;
    return v;
  };
  EXPECT_EQ(tried, (std::set<Point>{as_here(near_win->values), as_here(far_win->values)}));
  ASSERT_TRUE(out.winner);
  EXPECT_EQ(out.winner->values[4], 1);
}

/// Two variants of one role: the fake kernel and a copy under another id whose every config the
/// fake backend runs `slow_factor` times slower.
std::vector<TunableKernel> two_variants(const char* role = "chunk_fwd") {
  TunableKernel fast = fake_kernel(), slow = fake_kernel();
  slow.space.kernel = "test.fake_slow";
  fast.role = slow.role = role;
  return {fast, slow};
}

TEST(Tuner, AVariantWhoseUntunedOpIsFarSlowerIsNotSearched) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeOptions fo;
  fo.kernel_scale["test.fake_slow"] = 2.0;
  FakeBackend backend(fo);
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  opt.budget.max_trials = 6;
  const gdn::Problem p = varlen_problem({4096});
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  std::vector<TunableKernel> kernels = two_variants();
  kernels.push_back(fake_kernel());  // no role: never a variant
  kernels.back().space.kernel = "test.fake_alone";

  // 2x slower: over 1.5, not over 2.5; off at 0. Each variant's untuned op is measured once.
  EXPECT_EQ(tuner.slow_variants(kernels, p, 1.5), (std::set<std::string>{"test.fake_slow"}));
  EXPECT_EQ(backend.trials_run(), 2);
  EXPECT_TRUE(tuner.slow_variants(kernels, p, 2.5).empty());
  EXPECT_TRUE(tuner.slow_variants(kernels, p, 0).empty());
  EXPECT_EQ(backend.trials_run(), 2);  // resumed from the store
  const Point untuned = fake_space().default_point;
  for (const TunableKernel& k : {kernels[0], kernels[1]}) {
    const auto t = store.find_trial(fake_device(), k.identity(), p, k.space.label(untuned));
    ASSERT_TRUE(t) << k.space.kernel;
    EXPECT_NEAR(t->result.time.median_us,
                fake_cost_us(untuned, p) * (k.space.kernel == "test.fake_slow" ? 2.0 : 1.0), 1e-9);
  }

  // The slow variant as `qla tune` keeps it: its untuned op, resumed, is its winner in the store.
  const TuneOutcome skipped = tuner.keep_untuned(kernels[1], p);
  EXPECT_TRUE(skipped.skipped());
  EXPECT_EQ(skipped.measured, 0u);
  EXPECT_EQ(skipped.resumed, 1u);
  ASSERT_TRUE(skipped.winner);
  EXPECT_EQ(skipped.winner->values, untuned);
  const auto kept = store.winner(fake_device(), kernels[1].identity(), p);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->values, untuned);
  EXPECT_EQ(backend.trials_run(), 2);
  // The fast one gets its whole budget.
  EXPECT_EQ(tuner.tune(kernels[0], p).trials, opt.budget.max_trials);

  // A role of one kernel, or variants that all fail, skip nothing.
  EXPECT_TRUE(tuner.slow_variants({kernels[0]}, p, 1.5).empty());
  FakeOptions broken;
  broken.faults[fake_space().label(untuned)] = FakeFault::kInvalid;
  FakeBackend failing(broken);
  Tuner other(store, fake_device(2), ArchInfo{}, failing, 0, opt);
  EXPECT_TRUE(other.slow_variants(two_variants(), p, 1.5).empty());
}

// `qla tune`'s choice per kernel (Tuner::tune_or_keep): a kernel the untuned op does not launch for
// a problem (every config would time the same op) keeps its untuned op, measured once, as its
// winner; where it is launched, and for kernels without the predicate, the search runs; a slow
// variant is kept too, for its own reason.
TEST(Tuner, AKernelTheUntunedOpDoesNotLaunchIsNotSearched) {
  TempDir dir;
  Store store = Store::open(dir.file("t.sqlite"), Store::Mode::kReadWrite);
  FakeBackend backend(FakeOptions{});
  TuneOptions opt;
  opt.strategy = Strategy::kExhaustive;
  opt.budget.max_trials = 6;
  Tuner tuner(store, fake_device(), ArchInfo{}, backend, 0, opt);
  const gdn::Problem short_seq = varlen_problem({2048}), long_seq = varlen_problem({32768});
  TunableKernel cp = fake_kernel();
  cp.space.kernel = "test.fake_cp";
  cp.launched = [](const gdn::Problem& p) { return p.total_tokens() > 8192; };
  const Point untuned = fake_space().default_point;

  const TuneOutcome kept = tuner.tune_or_keep(cp, short_seq, {});
  EXPECT_TRUE(kept.skipped());
  EXPECT_EQ(kept.skip_reason, kSkipNotLaunched);
  EXPECT_EQ(kept.trials, 1u);
  EXPECT_EQ(kept.measured, 1u);
  ASSERT_TRUE(kept.winner);
  EXPECT_EQ(kept.winner->values, untuned);
  const auto stored = store.winner(fake_device(), cp.identity(), short_seq);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->values, untuned);
  EXPECT_EQ(backend.trials_run(), 1);
  // Again: resumed, nothing measured.
  EXPECT_EQ(tuner.tune_or_keep(cp, short_seq, {}).measured, 0u);
  EXPECT_EQ(backend.trials_run(), 1);

  // Launched: the whole budget, as tune() gives it.
  const TuneOutcome searched = tuner.tune_or_keep(cp, long_seq, {});
  EXPECT_FALSE(searched.skipped());
  EXPECT_TRUE(searched.skip_reason.empty());
  EXPECT_EQ(searched.trials, opt.budget.max_trials);
  // No predicate: always launched. In `slow`: kept as a slow variant.
  TunableKernel plain = fake_kernel();
  plain.space.kernel = "test.fake_plain";
  EXPECT_TRUE(plain.launched_for(short_seq));
  EXPECT_EQ(tuner.tune_or_keep(plain, short_seq, {}).trials, opt.budget.max_trials);
  const TuneOutcome slow = tuner.tune_or_keep(plain, long_seq, {"test.fake_plain"});
  EXPECT_TRUE(slow.skipped());
  EXPECT_EQ(slow.skip_reason, kSkipSlowVariant);
  EXPECT_EQ(slow.trials, 1u);
}

}  // namespace
}  // namespace qla::tuner
