#include "qla/tuner/worker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "helpers.hpp"
#include "qla/tuner/fake_kernel.hpp"

namespace qla::tuner {
namespace {

TrialRequest request(const Point& p) { return {"test.fake", test::varlen_problem({4096}), p}; }

const Point kGood{64, 64, 2, 8, 2};
const Point kSegv{64, 32, 2, 8, 2};
const Point kAbort{64, 32, 3, 8, 2};
const Point kHang{64, 32, 1, 8, 2};
const Point kSticky{32, 32, 1, 8, 2};
const Point kInvalid{32, 64, 1, 8, 2};
const Point kLaunch{32, 64, 2, 8, 2};

ProcessRunner faulty_runner(double timeout_s) {
  const SpaceDecl s = fake_space();
  // The test binary itself is the worker (see main.cpp).
  return ProcessRunner(
      ProcessRunner::self_worker_argv(
          {"--fault", s.label(kSegv) + "=segv", "--fault", s.label(kAbort) + "=abort", "--fault",
           s.label(kHang) + "=hang", "--fault", s.label(kSticky) + "=sticky", "--fault",
           s.label(kInvalid) + "=invalid", "--fault", s.label(kLaunch) + "=launch"}),
      timeout_s);
}

TEST(Worker, HealthyTrialsReuseOneWorker) {
  ProcessRunner r = faulty_runner(10);
  for (int i = 0; i < 3; ++i) {
    const TrialResult t = r.run_trial(request(kGood));
    EXPECT_EQ(t.status, TrialStatus::kOk) << t.message;
    EXPECT_DOUBLE_EQ(t.time.median_us, fake_cost_us(kGood, test::varlen_problem({4096})));
    EXPECT_EQ(t.kernels.size(), 2u);
  }
  EXPECT_DOUBLE_EQ(r.sample(request(kGood)), fake_cost_us(kGood, test::varlen_problem({4096})));
  EXPECT_EQ(r.workers_started(), 1);
}

TEST(Worker, SegfaultAbortAndStickyErrorsEndTheWorkerNotTheRun) {
  ProcessRunner r = faulty_runner(10);
  const TrialResult segv = r.run_trial(request(kSegv));
  EXPECT_EQ(segv.status, TrialStatus::kCrashed);
  EXPECT_NE(segv.message.find("SIGSEGV"), std::string::npos) << segv.message;
  EXPECT_EQ(r.run_trial(request(kGood)).status, TrialStatus::kOk);
  const TrialResult abrt = r.run_trial(request(kAbort));
  EXPECT_EQ(abrt.status, TrialStatus::kCrashed);
  EXPECT_NE(abrt.message.find("SIGABRT"), std::string::npos) << abrt.message;
  const TrialResult sticky = r.run_trial(request(kSticky));
  EXPECT_EQ(sticky.status, TrialStatus::kCrashed);
  EXPECT_NE(sticky.message.find("sticky"), std::string::npos) << sticky.message;
  EXPECT_EQ(r.run_trial(request(kGood)).status, TrialStatus::kOk);
  EXPECT_EQ(r.workers_started(), 4);  // first + after segv + after abort + after sticky
  EXPECT_TRUE(std::isinf(r.sample(request(kSegv))));
}

TEST(Worker, AHangIsKilledByTheWatchdog) {
  ProcessRunner r = faulty_runner(0.5);
  const auto t0 = std::chrono::steady_clock::now();
  const TrialResult hang = r.run_trial(request(kHang));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The trial never returns by itself, so kTimeout is the watchdog's doing; and it cannot have
  // fired before its limit (a slower machine only makes s larger: no upper bound is asserted).
  EXPECT_EQ(hang.status, TrialStatus::kTimeout);
  EXPECT_GE(s, 0.5);
  EXPECT_EQ(r.run_trial(request(kGood)).status, TrialStatus::kOk);
  EXPECT_EQ(r.workers_started(), 2);
}

TEST(Worker, InvalidAndLaunchErrorsAreDataAndKeepTheWorker) {
  ProcessRunner r = faulty_runner(10);
  const TrialResult inv = r.run_trial(request(kInvalid));
  EXPECT_EQ(inv.status, TrialStatus::kInvalid);
  ASSERT_FALSE(inv.errors.empty());
  EXPECT_GT(inv.errors[0].rel_fro, 0.02);
  const TrialResult launch = r.run_trial(request(kLaunch));
  EXPECT_EQ(launch.status, TrialStatus::kLaunchError);
  EXPECT_NE(launch.message.find("fake launch error"), std::string::npos);
  EXPECT_EQ(r.workers_started(), 1);
}

TEST(Worker, AMissingWorkerExecutableIsACrashNotAnException) {
  ProcessRunner r({"/nonexistent/qla", "worker"}, 2);
  const TrialResult t = r.run_trial(request(kGood));
  EXPECT_EQ(t.status, TrialStatus::kCrashed);
  EXPECT_NE(t.message.find("127"), std::string::npos) << t.message;
}

TEST(Worker, ResultJsonRoundTrip) {
  TrialResult r;
  r.status = TrialStatus::kInvalid;
  r.time = {1, 2, 3, 4, 0.5};
  r.kernels = {{"a", 1.5}};
  r.errors = {{"o", 0.3, 0.7, 2}};
  r.resources = {100, 2000, 8};
  r.message = "m";
  const TrialResult b = trial_result_from_json(trial_result_to_json(r));
  EXPECT_EQ(b.status, r.status);
  EXPECT_DOUBLE_EQ(b.time.max_us, 3);
  EXPECT_EQ(b.kernels[0].name, "a");
  EXPECT_EQ(b.errors[0].nan_count, 2);
  EXPECT_EQ(b.resources.spills, 8);
  EXPECT_EQ(b.message, "m");
}

}  // namespace
}  // namespace qla::tuner
