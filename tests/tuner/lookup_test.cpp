#include "qla/tuner/lookup.hpp"

#include <gtest/gtest.h>

#include <cmath>

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

void put_best(Store& s, const DeviceFingerprint& dev, const gdn::Problem& p, const Point& values,
              double us, const KernelIdentity& k = kFake) {
  TrialRecord t;
  t.kernel = k;
  t.problem = p;
  t.values = values;
  t.config = fake_space().label(values);
  t.result.time = {us, us, us, 10, 0.001};
  ASSERT_TRUE(s.put_trial(dev, t));
}

DeviceFingerprint other_arch_device() {
  DeviceFingerprint d = fake_device(5);
  d.name = "Fake A100";
  d.cc_major = 8;
  return d;
}

TEST(Lookup, FallsBackExactNearestSameArchHeuristic) {
  TempDir dir;
  Store s = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  const SpaceDecl space = fake_space();
  const DeviceFingerprint here = fake_device(0),
                          sibling = fake_device(1);  // same sm_90, other driver
  put_best(s, here, varlen_problem({4096}), {64, 32, 2, 8, 2}, 10);
  put_best(s, here, varlen_problem({32768}), {64, 128, 2, 8, 2}, 50);
  put_best(s, here, varlen_problem({32768}), {64, 64, 2, 8, 2}, 60);  // slower: not the best
  put_best(s, sibling, varlen_problem({8192}, 16, 64), {128, 64, 2, 16, 4}, 70);
  put_best(s, other_arch_device(), varlen_problem({4096}, 4, 16), {32, 16, 1, 4, 1}, 5);

  Lookup lookup(here);
  lookup.add_kernel(s, kFake, space, [](const gdn::Problem&) { return Point{32, 32, 1, 4, 1}; });

  const LookupResult exact = lookup.find("test.fake", varlen_problem({4096}));
  EXPECT_EQ(exact.provenance, Provenance::kExact);
  EXPECT_EQ(exact.config, (Point{64, 32, 2, 8, 2}));
  EXPECT_DOUBLE_EQ(exact.distance, 0);
  EXPECT_DOUBLE_EQ(exact.measured_us, 10);

  // 16384 tokens: log2 distance 1 to 32768, 2 to 4096.
  const LookupResult near = lookup.find("test.fake", varlen_problem({16384}));
  EXPECT_EQ(near.provenance, Provenance::kNearest);
  EXPECT_EQ(near.config, (Point{64, 128, 2, 8, 2}));
  EXPECT_DOUBLE_EQ(near.distance, 1.0);
  EXPECT_EQ(near.problem, problem_key(varlen_problem({32768})));

  // Two sequences of 2048: same total as 4096, one more doubling of sequences.
  const LookupResult split = lookup.find("test.fake", varlen_problem({2048, 2048}));
  EXPECT_EQ(split.provenance, Provenance::kNearest);
  EXPECT_DOUBLE_EQ(split.distance, 1.0);
  EXPECT_EQ(split.config, (Point{64, 32, 2, 8, 2}));

  // (16, 64) heads were only tuned on the sibling device of the same compute capability.
  const LookupResult arch = lookup.find("test.fake", varlen_problem({8192}, 16, 64));
  EXPECT_EQ(arch.provenance, Provenance::kSameArch);
  EXPECT_EQ(arch.config, (Point{128, 64, 2, 16, 4}));
  EXPECT_EQ(arch.device, "Fake H100");

  // (4, 16) heads were only tuned on another arch: not used, the heuristic answers.
  const LookupResult heur = lookup.find("test.fake", varlen_problem({4096}, 4, 16));
  EXPECT_EQ(heur.provenance, Provenance::kHeuristic);
  EXPECT_EQ(heur.config, (Point{32, 32, 1, 4, 1}));

  EXPECT_THROW(lookup.find("no.such.kernel", varlen_problem({4096})), UserError);
}

TEST(Lookup, AQueryExactlyBetweenTwoProblemsTakesTheEarlierEntry) {
  TempDir dir;
  Store s = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  put_best(s, fake_device(), varlen_problem({4096}), {64, 32, 2, 8, 2}, 10);
  put_best(s, fake_device(), varlen_problem({16384}), {64, 128, 2, 8, 2}, 40);
  Lookup lookup(fake_device());
  lookup.add_kernel(s, kFake, fake_space());
  // 8192 tokens: one doubling from each. Entries are in the store's order (device, then problem
  // key), where
  // "...t16384..." sorts before "...t4096...": ties keep the earlier entry.
  ASSERT_LT(problem_key(varlen_problem({16384})), problem_key(varlen_problem({4096})));
  const LookupResult mid = lookup.find("test.fake", varlen_problem({8192}));
  EXPECT_EQ(mid.provenance, Provenance::kNearest);
  EXPECT_DOUBLE_EQ(mid.distance, 1.0);
  EXPECT_EQ(mid.config, (Point{64, 128, 2, 8, 2}));
}

TEST(Lookup, AnUnevenBatchFindsTheUnevenProblemOfItsSize) {
  TempDir dir;
  Store s = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  put_best(s, fake_device(), varlen_problem({16384, 16384}), {64, 128, 2, 8, 2}, 40);
  put_best(s, fake_device(), varlen_problem({28672, 4096}), {64, 64, 2, 8, 2}, 30);
  Lookup lookup(fake_device());
  lookup.add_kernel(s, kFake, fake_space());
  // Same tokens and sequences as both; the fill (tokens / (sequences x longest)) is 32768 / 60000
  // here, 32768 / 57344 there and 1 for the even pair.
  const LookupResult uneven = lookup.find("test.fake", varlen_problem({30000, 2768}));
  EXPECT_EQ(uneven.provenance, Provenance::kNearest);
  EXPECT_EQ(uneven.config, (Point{64, 64, 2, 8, 2}));
  EXPECT_NEAR(uneven.distance, std::log2(30000.0 / 28672.0), 1e-12);
  EXPECT_EQ(lookup.find("test.fake", varlen_problem({16000, 16768})).config,
            (Point{64, 128, 2, 8, 2}));
  EXPECT_NEAR(problem_distance(varlen_problem({16384, 16384}), varlen_problem({28672, 4096})),
              std::log2(28672.0 / 16384.0), 1e-12);
}

TEST(Lookup, TheQkvDtypeIsPartOfTheClass) {
  TempDir dir;
  Store s = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  gdn::Problem f16 = varlen_problem({4096});
  f16.qkv_dtype = DType::kF16;
  put_best(s, fake_device(), f16, {64, 32, 2, 8, 2}, 10);
  Lookup lookup(fake_device());
  lookup.add_kernel(s, kFake, fake_space(), [](const gdn::Problem&) {
    return Point{32, 32, 1, 4, 1};
  });
  // Only an fp16 row: a bf16 query of the same shape is another class and falls to the heuristic.
  EXPECT_EQ(lookup.find("test.fake", varlen_problem({4096})).provenance, Provenance::kHeuristic);
  EXPECT_EQ(lookup.find("test.fake", f16).provenance, Provenance::kExact);
  put_best(s, fake_device(), varlen_problem({65536}), {64, 128, 2, 8, 2}, 90);
  Lookup both(fake_device());
  both.add_kernel(s, kFake, fake_space());
  // The bf16 query takes the far bf16 row, never the exact-shape fp16 one.
  const LookupResult bf16 = both.find("test.fake", varlen_problem({4096}));
  EXPECT_EQ(bf16.provenance, Provenance::kNearest);
  EXPECT_EQ(bf16.config, (Point{64, 128, 2, 8, 2}));
}

TEST(Lookup, PrefersTheDecidedWinnerAndIgnoresOtherSources) {
  TempDir dir;
  Store s = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  const gdn::Problem p = varlen_problem({4096});
  put_best(s, fake_device(), p, {64, 32, 2, 8, 2}, 10.0);
  put_best(s, fake_device(), p, {64, 64, 2, 8, 2}, 10.05);
  s.put_winner(fake_device(), kFake, p, {"c64.bv64.s2.w8.u2", {64, 64, 2, 8, 2}, 10.0, 0}, 0);
  KernelIdentity newer = kFake;
  newer.source_hash = "src2";

  Lookup lookup(fake_device());
  lookup.add_kernel(s, kFake, fake_space());
  EXPECT_EQ(lookup.find("test.fake", p).config, (Point{64, 64, 2, 8, 2}));

  Lookup fresh(fake_device());
  fresh.add_kernel(s, newer, fake_space());  // kernel source changed: old measurements do not apply
  const LookupResult r = fresh.find("test.fake", p);
  EXPECT_EQ(r.provenance, Provenance::kHeuristic);
  EXPECT_EQ(r.config, fake_space().default_point);
}

TEST(Lookup, HookAnswersForKnownKernelsOnly) {
  TempDir dir;
  Store s = Store::open(dir.file("a.sqlite"), Store::Mode::kReadWrite);
  put_best(s, fake_device(), varlen_problem({4096}), {64, 32, 2, 8, 2}, 10);
  auto lookup = std::make_shared<Lookup>(fake_device());
  lookup->add_kernel(s, kFake, fake_space());
  const ConfigHook hook = make_config_hook(lookup);
  EXPECT_EQ(hook("test.fake", varlen_problem({4096}), ArchInfo{}), (Point{64, 32, 2, 8, 2}));
  EXPECT_FALSE(hook("gdn.unknown", varlen_problem({4096}), ArchInfo{}));
}

}  // namespace
}  // namespace qla::tuner
