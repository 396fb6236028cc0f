// The winners of two stores side by side (tuner/include/qla/tuner/repeatability.hpp), on stores
// built by hand: every winner and trial median is chosen, so each verdict is known.
#include "qla/tuner/repeatability.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "helpers.hpp"
#include "qla/error.hpp"
#include "qla/tuner/fake_kernel.hpp"
#include "qla/tuner/problem_json.hpp"

namespace qla::tuner {
namespace {

using test::fake_device;
using test::TempDir;
using test::varlen_problem;

const KernelIdentity kFake{"test.fake", "src1", "space1"};
const Point kX{64, 64, 2, 8, 2}, kY{64, 32, 2, 8, 2}, kZ{32, 64, 2, 8, 2};

std::string label(const Point& p) { return fake_space().label(p); }

/// Stores a trial of `config` of `k` on `p` with median `us` and status `status`.
void put_trial(Store& s, const KernelIdentity& k, const gdn::Problem& p, const Point& config,
               double us, TrialStatus status = TrialStatus::kOk) {
  TrialRecord t;
  t.kernel = k;
  t.problem = p;
  t.values = config;
  t.config = label(config);
  t.result.status = status;
  t.result.time = {us, us * 0.99, us * 1.01, 10, 0.004};
  ASSERT_TRUE(s.put_trial(fake_device(), t));
}

/// Stores the trial of `config` and makes it the winner of (k, p) at `us`.
void put_winner(Store& s, const KernelIdentity& k, const gdn::Problem& p, const Point& config,
                double us) {
  put_trial(s, k, p, config, us);
  s.put_winner(fake_device(), k, p, {label(config), config, us, 0}, 0);
}

/// Two fresh stores, A and B.
struct TwoStores {
  TempDir dir;
  Store a = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  Store b = Store::open(dir.file("b.sqlite"), Store::Mode::kReadWrite);
};

TEST(Repeatability, TheSameWinnerIsTheSameConfigWhateverItsSpread) {
  TwoStores s;
  const gdn::Problem p = varlen_problem({4096});
  s.a.begin_run(fake_device(), {"qla tune a", "abc123", "anneal", "8 trials", "h"});
  put_winner(s.a, kFake, p, kX, 10.0);
  put_winner(s.b, kFake, p, kX, 12.0);  // 20 % apart, still the same config
  const nlohmann::json doc = compare_stores(s.a, s.b);
  EXPECT_EQ(doc["schema"], "qla.repeatability.v1");
  EXPECT_DOUBLE_EQ(doc["tolerance"].get<double>(), 0.03);
  ASSERT_EQ(doc["stores"].size(), 2u);
  EXPECT_EQ(doc["stores"][0]["path"], s.dir.file("a.sqlite"));
  EXPECT_EQ(doc["stores"][1]["path"], s.dir.file("b.sqlite"));
  ASSERT_EQ(doc["stores"][0]["runs"].size(), 1u);
  EXPECT_EQ(doc["stores"][0]["runs"][0]["args"], "qla tune a");
  EXPECT_EQ(doc["stores"][0]["runs"][0]["git_commit"], "abc123");
  EXPECT_EQ(doc["stores"][1]["runs"].size(), 0u);
  ASSERT_EQ(doc["rows"].size(), 1u);
  const nlohmann::json& r = doc["rows"][0];
  EXPECT_EQ(r["kernel"], "test.fake");
  EXPECT_EQ(r["problem"], problem_key(p));
  EXPECT_EQ(r["device"], fake_device().digest());
  EXPECT_EQ(r["config_a"], label(kX));
  EXPECT_EQ(r["config_b"], label(kX));
  EXPECT_DOUBLE_EQ(r["median_us_a"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(r["median_us_b"].get<double>(), 12.0);
  EXPECT_TRUE(r["same_config"].get<bool>());
  EXPECT_DOUBLE_EQ(r["spread"].get<double>(), 0.2);
  EXPECT_EQ(r["verdict"], "same config");
  EXPECT_EQ(doc["summary"]["compared"], 1);
  EXPECT_EQ(doc["summary"]["same_config"], 1);
  EXPECT_EQ(doc["summary"]["within_noise"], 0);
  EXPECT_EQ(doc["summary"]["differs"], 0);
  EXPECT_TRUE(doc["only_in_a"].empty());
  EXPECT_TRUE(doc["only_in_b"].empty());
}

TEST(Repeatability, DifferentConfigsWithinToleranceBothWaysAreWithinNoise) {
  TwoStores s;
  const gdn::Problem p = varlen_problem({4096});
  put_winner(s.a, kFake, p, kX, 10.0);
  put_trial(s.a, kFake, p, kY, 10.2);  // A found B's winner 2 % slower than its own
  put_winner(s.b, kFake, p, kY, 10.1);
  put_trial(s.b, kFake, p, kX, 10.25);  // B found A's winner 1.5 % slower than its own
  const nlohmann::json doc = compare_stores(s.a, s.b);
  ASSERT_EQ(doc["rows"].size(), 1u);
  const nlohmann::json& r = doc["rows"][0];
  EXPECT_FALSE(r["same_config"].get<bool>());
  EXPECT_NEAR(r["spread"].get<double>(), 0.01, 1e-12);
  EXPECT_DOUBLE_EQ(r["a_on_b"].get<double>(), 10.2);
  EXPECT_DOUBLE_EQ(r["b_on_a"].get<double>(), 10.25);
  EXPECT_EQ(r["verdict"], "within noise");
  EXPECT_EQ(doc["summary"]["within_noise"], 1);
  EXPECT_EQ(doc["summary"]["differs"], 0);
}

TEST(Repeatability, ACrossMeasurementSlowerThanToleranceDiffers) {
  TwoStores s;
  const gdn::Problem p = varlen_problem({4096});
  put_winner(s.a, kFake, p, kX, 10.0);
  put_winner(s.b, kFake, p, kY, 10.1);
  // Without cross measurements the 1 % spread alone is within noise.
  {
    const nlohmann::json doc = compare_stores(s.a, s.b);
    EXPECT_TRUE(doc["rows"][0]["a_on_b"].is_null());
    EXPECT_TRUE(doc["rows"][0]["b_on_a"].is_null());
    EXPECT_EQ(doc["rows"][0]["verdict"], "within noise");
  }
  // A failed trial of B's winner in A is no measurement of it.
  put_trial(s.a, kFake, p, kY, 9.0, TrialStatus::kInvalid);
  EXPECT_TRUE(compare_stores(s.a, s.b)["rows"][0]["a_on_b"].is_null());
  // B measured A's winner 5 % slower than B's own: the two searches did not agree.
  put_trial(s.b, kFake, p, kX, 10.6);
  const nlohmann::json doc = compare_stores(s.a, s.b);
  const nlohmann::json& r = doc["rows"][0];
  EXPECT_NEAR(r["spread"].get<double>(), 0.01, 1e-12);
  EXPECT_DOUBLE_EQ(r["b_on_a"].get<double>(), 10.6);
  EXPECT_EQ(r["verdict"], "differs");
  EXPECT_EQ(doc["summary"]["differs"], 1);
  EXPECT_EQ(doc["summary"]["within_noise"], 0);
  // A looser tolerance takes it back in.
  EXPECT_EQ(compare_stores(s.a, s.b, 0.06)["rows"][0]["verdict"], "within noise");
}

TEST(Repeatability, ASpreadAboveToleranceDiffers) {
  TwoStores s;
  const gdn::Problem p = varlen_problem({4096});
  put_winner(s.a, kFake, p, kX, 10.0);
  put_winner(s.b, kFake, p, kY, 10.5);
  const nlohmann::json doc = compare_stores(s.a, s.b);
  const nlohmann::json& r = doc["rows"][0];
  EXPECT_DOUBLE_EQ(r["spread"].get<double>(), 0.05);
  EXPECT_EQ(r["verdict"], "differs");
  EXPECT_EQ(compare_stores(s.a, s.b, 0.051)["rows"][0]["verdict"], "within noise");
  // The spread is relative to the faster of the two, whichever store holds it.
  EXPECT_DOUBLE_EQ(compare_stores(s.b, s.a)["rows"][0]["spread"].get<double>(), 0.05);
}

TEST(Repeatability, WinnersOfOneStoreOnlyAreListedApartAndRowsAreOrdered) {
  TwoStores s;
  const gdn::Problem p1 = varlen_problem({4096}), p2 = varlen_problem({8192}),
                     p3 = varlen_problem({2048}), p4 = varlen_problem({1024, 1024});
  const KernelIdentity other{"test.another", "src9", "space9"};
  // B's winners are stored in another order than A's; rows follow kernel, then problem.
  put_winner(s.a, kFake, p1, kX, 10.0);
  put_winner(s.a, kFake, p4, kX, 5.0);
  put_winner(s.a, other, p1, kZ, 7.0);
  put_winner(s.a, kFake, p2, kY, 20.0);
  put_winner(s.b, other, p1, kZ, 7.0);
  put_winner(s.b, kFake, p3, kZ, 4.0);
  put_winner(s.b, kFake, p4, kX, 5.0);
  put_winner(s.b, kFake, p1, kX, 10.0);
  const nlohmann::json doc = compare_stores(s.a, s.b);
  ASSERT_EQ(doc["rows"].size(), 3u);
  const std::string k1 = problem_key(p1), k4 = problem_key(p4);
  ASSERT_LT(k1, k4);
  EXPECT_EQ(doc["rows"][0]["kernel"], "test.another");
  EXPECT_EQ(doc["rows"][1]["kernel"], "test.fake");
  EXPECT_EQ(doc["rows"][1]["problem"], k1);
  EXPECT_EQ(doc["rows"][2]["problem"], k4);
  ASSERT_EQ(doc["only_in_a"].size(), 1u);
  EXPECT_EQ(doc["only_in_a"][0]["problem"], problem_key(p2));
  EXPECT_EQ(doc["only_in_a"][0]["kernel"], "test.fake");
  EXPECT_EQ(doc["only_in_a"][0]["source_hash"], "src1");
  EXPECT_EQ(doc["only_in_a"][0]["config"], label(kY));
  EXPECT_DOUBLE_EQ(doc["only_in_a"][0]["median_us"].get<double>(), 20.0);
  ASSERT_EQ(doc["only_in_b"].size(), 1u);
  EXPECT_EQ(doc["only_in_b"][0]["problem"], problem_key(p3));
  EXPECT_EQ(doc["summary"]["compared"], 3);
  EXPECT_EQ(doc["summary"]["same_config"], 3);
  EXPECT_EQ(doc["summary"]["only_in_a"], 1);
  EXPECT_EQ(doc["summary"]["only_in_b"], 1);
}

TEST(Repeatability, WinnersOfAnotherSourceOrSpaceAreNotCompared) {
  TwoStores s;
  const gdn::Problem p = varlen_problem({4096}), q = varlen_problem({8192});
  KernelIdentity new_source = kFake, new_space = kFake;
  new_source.source_hash = "src2";
  new_space.space_hash = "space2";
  put_winner(s.a, kFake, p, kX, 10.0);
  put_winner(s.b, new_source, p, kY, 30.0);  // would differ, were it compared
  put_winner(s.a, kFake, q, kX, 20.0);
  put_winner(s.b, new_space, q, kY, 60.0);
  EXPECT_THROW(compare_stores(s.a, s.b), UserError);
  put_winner(s.b, kFake, q, kX, 20.0);
  const nlohmann::json doc = compare_stores(s.a, s.b);
  ASSERT_EQ(doc["rows"].size(), 1u);
  EXPECT_EQ(doc["rows"][0]["problem"], problem_key(q));
  EXPECT_EQ(doc["rows"][0]["source_hash"], "src1");
  EXPECT_EQ(doc["rows"][0]["space_hash"], "space1");
  EXPECT_EQ(doc["rows"][0]["verdict"], "same config");
  ASSERT_EQ(doc["only_in_a"].size(), 1u);
  EXPECT_EQ(doc["only_in_a"][0]["source_hash"], "src1");
  EXPECT_EQ(doc["only_in_a"][0]["problem"], problem_key(p));
  ASSERT_EQ(doc["only_in_b"].size(), 2u);
  EXPECT_EQ(doc["only_in_b"][0]["source_hash"], "src2");
  EXPECT_EQ(doc["only_in_b"][1]["space_hash"], "space2");
}

TEST(Repeatability, RefusesANegativeToleranceAndStoresWithNothingInCommon) {
  TwoStores s;
  const gdn::Problem p = varlen_problem({4096});
  put_winner(s.a, kFake, p, kX, 10.0);
  try {
    compare_stores(s.a, s.b);
    ADD_FAILURE() << "an empty store B was compared";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("no winner in common"), std::string::npos) << e.what();
  }
  put_winner(s.b, kFake, varlen_problem({8192}), kX, 10.0);
  EXPECT_THROW(compare_stores(s.a, s.b), UserError);
  put_winner(s.b, kFake, p, kX, 10.0);
  EXPECT_NO_THROW(compare_stores(s.a, s.b, 0));
  EXPECT_THROW(compare_stores(s.a, s.b, -0.01), UserError);
  EXPECT_THROW(compare_stores(s.a, s.b, std::numeric_limits<double>::quiet_NaN()), UserError);
}

TEST(Repeatability, TheTableHasOneLinePerRowAndASummary) {
  TwoStores s;
  const gdn::Problem p = varlen_problem({4096}), q = varlen_problem({8192});
  put_winner(s.a, kFake, p, kX, 10.0);
  put_winner(s.b, kFake, p, kX, 10.0);
  put_winner(s.a, kFake, q, kX, 20.0);
  put_winner(s.b, kFake, q, kY, 25.0);
  const std::string table = repeatability_table(compare_stores(s.a, s.b));
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl; (nl = table.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(table.substr(at, nl - at));
  ASSERT_EQ(lines.size(), 4u) << table;
  EXPECT_EQ(lines[0].rfind("kernel", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("spread %"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(problem_key(p)), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("10.00"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[1].substr(lines[1].size() - 11), "same config") << lines[1];
  EXPECT_NE(lines[2].find("25.00"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("25.0  differs"), std::string::npos) << lines[2];
  // Columns line up: each verdict starts where the header's does.
  EXPECT_EQ(lines[1].find("same config"), lines[0].find("verdict"));
  EXPECT_EQ(lines[2].find("differs"), lines[0].find("verdict"));
  EXPECT_EQ(lines[3],
            "2 compared: 1 same config, 0 within noise, 1 differ (tolerance 3.0 %); 0 only in A, "
            "0 only in B");
}

}  // namespace
}  // namespace qla::tuner
