// The tunable kernels of the fused forward, as `qla tune` enumerates them without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"
#include "qla/gdn/cumsum.hpp"
#include "qla/gdn/kkt_solve.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/tuner/gdn_adapter.hpp"
#include "qla/tuner/store.hpp"

namespace qla::tuner {
namespace {

/// An H100 80GB: sm_90a, 132 SMs (the V-split rule reads the SM count).
const ArchInfo kH100{9, 0, 132, 232448, 65536, 50 << 20};

TEST(GdnTunableKernels, TheForwardKernelsAndThePlanKnobs) {
  const ArchInfo hopper = ArchInfo::named("sm_90a");
  const auto all = gdn_tunable_kernels({}, hopper);
  std::set<std::string> ids;
  for (const auto& k : all) ids.insert(k.space.kernel);
  for (const char* id :
       {"gdn.fused_fwd", "gdn.fused_fwd_ws", "gdn.kkt_solve", "gdn.state_pass", "gdn.fwd_plan"})
    EXPECT_TRUE(ids.count(id)) << id;
  EXPECT_FALSE(ids.count("gdn.naive_fwd")) << "baselines are not part of the fused op";
  // A variant that builds nowhere on the target is not searched by default (setmaxnreg is sm_90a
  // only).
  const ArchInfo ampere{8, 0, 108, 166912, 65536, 40 << 20};
  std::set<std::string> on_ampere;
  for (const auto& k : gdn_tunable_kernels({}, ampere)) on_ampere.insert(k.space.kernel);
  EXPECT_TRUE(on_ampere.count("gdn.fused_fwd"));
  EXPECT_FALSE(on_ampere.count("gdn.fused_fwd_ws"));
  for (const auto& k : all) {
    EXPECT_FALSE(k.source_hash.empty()) << k.space.kernel;
    EXPECT_GT(k.space.size(), 1u) << k.space.kernel;
    // The correction's untuned op stages M by tensor copies on sm_90a: its trial there is the
    // baseline.
    if (k.space.kernel == "gdn.cp_correct") {
      EXPECT_EQ(k.space.label(k.baseline_point(gdn::Problem{})), "bv8.ms2.sk1.rt1");
    }
  }
  // The variants of a role share it (qla tune skips the search of a far slower one).
  std::map<std::string, std::set<std::string>> by_role;
  for (const auto& k : all) by_role[k.role].insert(k.space.kernel);
  EXPECT_EQ(by_role["chunk_fwd"],
            (std::set<std::string>{"gdn.fused_fwd", "gdn.fused_fwd_ws", "gdn.fused_fwd_wgmma"}));
  EXPECT_EQ(by_role["cp_state_pass"],
            (std::set<std::string>{"gdn.state_pass", "gdn.state_pass_wgmma"}));
  EXPECT_EQ(by_role["ut_prep"], (std::set<std::string>{"gdn.kkt_solve"}));
  EXPECT_EQ(by_role[""], (std::set<std::string>{"gdn.fwd_plan"}));  // the plan: no variants
}

// The CP kernels are launched only where the untuned op runs CP (gdn::untuned_op_runs_cp), so
// `qla tune` does not search them elsewhere; every other kernel is always launched.
TEST(GdnTunableKernels, TheCpKernelsAreLaunchedOnlyWhereTheUntunedOpRunsCp) {
  gdn::Problem with_cp, without_cp;  // 2/8 and 16/64 1x32768: the rule is on, then off
  for (gdn::Problem* p : {&with_cp, &without_cp}) {
    p->tokens = 32768;
    p->cu_seqlens = {0, 32768};
  }
  with_cp.h_qk = 2;
  with_cp.h_v = 8;
  without_cp.h_qk = 16;
  without_cp.h_v = 64;
  ASSERT_TRUE(gdn::untuned_op_runs_cp(with_cp, kH100));
  ASSERT_FALSE(gdn::untuned_op_runs_cp(without_cp, kH100));
  int cp_kernels = 0;
  for (const auto& k : gdn_tunable_kernels({}, kH100)) {
    SCOPED_TRACE(k.space.kernel);
    EXPECT_TRUE(k.launched_for(with_cp));
    const bool cp = k.role == "cp_state_pass" || k.role == "cp_correct";
    cp_kernels += cp;
    EXPECT_EQ(k.launched_for(without_cp), !cp);
  }
  EXPECT_EQ(cp_kernels, 3);  // the two state passes and the correction
}

// The plan's second trial is the other CP decision (gdn::other_cp_plan_point), and its search keeps
// one plan per op (gdn::canonical_plan_point); the kernels have neither.
TEST(GdnTunableKernels, ThePlanTriesTheOtherCpDecisionAndSkipsEquivalentPlans) {
  gdn::Problem p;  // 8/32 1x8192: the untuned rule leaves CP off
  p.tokens = 8192;
  p.cu_seqlens = {0, 8192};
  p.h_qk = 8;
  p.h_v = 32;
  ASSERT_FALSE(gdn::cp_untuned_rule(p, 64));
  for (const auto& k : gdn_tunable_kernels({}, kH100)) {
    SCOPED_TRACE(k.space.kernel);
    if (k.space.kernel != "gdn.fwd_plan") {
      EXPECT_FALSE(k.alternatives);
      EXPECT_FALSE(k.canonical);
      continue;
    }
    ASSERT_TRUE(k.alternatives);
    ASSERT_TRUE(k.canonical);  // its search skips plans that run the same op
    EXPECT_EQ(k.space.label(k.canonical(p, k.space.parse("c64.cp0.pc8.th6.v0.sv0").value())),
              "c64.cp2.pc0.th10.v0.sv0");
    const std::vector<Point> alt = k.alternatives(p);
    ASSERT_EQ(alt.size(), 1u);
    EXPECT_EQ(alt[0], gdn::other_cp_plan_point(p, kH100).value());
    EXPECT_EQ(gdn::FwdPlanConfig::from_point(alt[0]).cp, 1);
  }
}

// gdn.cumsum builds C = 128 too, but no chunk forward consumes it: the tuner does not search it
// (every such trial would fail to plan), and the space keeps its hash, so stored trials still
// match.
TEST(GdnTunableKernels, ChunkSharingKernelsAreSearchedOnlyAtThePlansChunkSizes) {
  const ArchInfo hopper = ArchInfo::named("sm_90a");
  for (const auto& k : gdn_tunable_kernels({"gdn.cumsum", "gdn.kkt_solve"}, hopper)) {
    std::set<int> chunks;
    for (const Point& p : k.space.enumerate(&hopper)) chunks.insert(value_of(k.space, p, "chunk"));
    EXPECT_EQ(chunks, (std::set<int>{32, 64})) << k.space.kernel;
    const SpaceDecl* family = nullptr;
    for (const auto& f : cuda::kernel_families())
      if (f.space->kernel == k.space.kernel) family = f.space;
    ASSERT_NE(family, nullptr);
    EXPECT_EQ(k.space.hash(), family->hash()) << k.space.kernel;
  }
  EXPECT_EQ(gdn::cumsum_space().size(), 3u) << "the family itself still has C = 128";
}

// A candidate is validated on a batch of the timed problem's own class: GVA ratio, dims, dtypes,
// flags and scale come from the timed problem; the sequences are two packed ones with partial
// chunks.
TEST(GdnTunableKernels, TheValidationBatchIsOfTheTimedProblemsClass) {
  gdn::Problem timed;
  timed.batch = 4;
  timed.tokens = 8192;
  timed.h_qk = 4;
  timed.h_v = 16;
  timed.qkv_dtype = DType::kF16;
  timed.gate_dtype = DType::kBF16;
  timed.beta_dtype = DType::kF16;
  timed.initial_state = true;
  timed.final_state = false;
  timed.l2norm_qk = true;
  timed.scale = 0.25;
  const gdn::Problem vp = validation_problem(timed);
  EXPECT_EQ(vp.class_label(), timed.class_label());
  vp.validate();
  ASSERT_EQ(vp.num_sequences(), 2);
  for (std::int64_t n = 0; n < 2; ++n) {
    EXPECT_NE(vp.seq_length(n) % 64, 0) << "a partial chunk at C = 64";
    EXPECT_NE(vp.seq_length(n) % 32, 0) << "a partial chunk at C = 32";
  }
}

TEST(GdnTunableKernels, PlanKnobsNeedNoCompileAndFollowTheKernelSources) {
  const ArchInfo hopper = ArchInfo::named("sm_90a");
  const auto only = gdn_tunable_kernels({"gdn.fwd_plan"}, hopper);
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].space.kernel, "gdn.fwd_plan");
  EXPECT_TRUE(only[0].space.runtime);
  EXPECT_FALSE(static_cast<bool>(only[0].compile)) << "a runtime knob has nothing to compile";
  EXPECT_EQ(only[0].space.hash(), gdn::fwd_plan_space().hash());
  // Deterministic: the same sources give the same key, so a rerun resumes.
  EXPECT_EQ(gdn_tunable_kernels({"gdn.fwd_plan"}, hopper)[0].source_hash, only[0].source_hash);
  EXPECT_THROW(gdn_tunable_kernels({"gdn.no_such_kernel"}, hopper), UserError);
}

/// A store on a made-up H100 with trials of the real kernels' identities (no GPU needed).
class GdnStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("qla_gdn_store_" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    store_ =
        std::make_unique<Store>(Store::open((dir_ / "s.sqlite").string(), Store::Mode::kReadWrite));
    device_.name = "NVIDIA H100 80GB HBM3";
    device_.cc_major = 9;
    device_.sm_count = 132;
    problem_.tokens = 8192;
    problem_.h_qk = 2;
    problem_.h_v = 8;
    for (const auto& k : gdn_tunable_kernels({}, kH100)) kernels_[k.space.kernel] = k;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void put(const std::string& kernel, const Point& values, double us) {
    const TunableKernel& k = kernels_.at(kernel);
    TrialRecord t;
    t.kernel = k.identity();
    t.problem = problem_;
    t.values = values;
    t.config = k.space.label(values);
    t.result.time.median_us = us;
    t.result.time.samples = 10;
    ASSERT_TRUE(store_->put_trial(device_, t));
  }
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  DeviceFingerprint device_;
  gdn::Problem problem_;
  std::map<std::string, TunableKernel> kernels_;
};

// The CP state pass is one role with two families: a plan's members hold the one its state
// variant names, or the untuned op's (the wgmma chain where it builds at the plan's C).
TEST_F(GdnStore, PlanMembersHoldThePlansStatePassVariantOnly) {
  put("gdn.state_pass", {64, 1, 8, 64}, 60);
  put("gdn.state_pass", {32, 2, 8, 128}, 65);
  put("gdn.state_pass_wgmma", {64, 64, 3, 0}, 40);
  const auto members = gdn_plan_members(*store_, device_, kH100);
  const Members rule64 = members(problem_, {64, 2, 0, 10, 0, 0});
  EXPECT_EQ(rule64.at("gdn.state_pass_wgmma").label, "c64.bv64.s3.f0");
  EXPECT_EQ(rule64.count("gdn.state_pass"), 0u);
  const Members mma64 = members(problem_, {64, 2, 0, 10, 0, 1});
  EXPECT_EQ(mma64.at("gdn.state_pass").label, "c64.s1.w8.bv64");
  EXPECT_EQ(mma64.count("gdn.state_pass_wgmma"), 0u);
  // C = 32: the wgmma chain has no such chunk size, so the rule falls to the mma state pass.
  const Members rule32 = members(problem_, {32, 2, 0, 10, 0, 0});
  EXPECT_EQ(rule32.at("gdn.state_pass").label, "c32.s2.w8.bv128");
  EXPECT_EQ(rule32.count("gdn.state_pass_wgmma"), 0u);
}

// The tuner never proposes a plan whose wgmma variant cannot run: C = 64 and a wgmma target only.
TEST(GdnTunableKernels, PlanPointsWithAWgmmaVariantBuildOnlyWhereItRuns) {
  const SpaceDecl& s = gdn::fwd_plan_space();
  const ArchInfo ampere{8, 0, 108, 166912, 65536, 40 << 20};
  int hopper_wgmma = 0;
  for (const Point& p : s.enumerate(&kH100)) {
    const auto c = gdn::FwdPlanConfig::from_point(p);
    if (c.variant == 3 || c.state_variant == 2) {
      EXPECT_EQ(c.chunk, 64) << s.label(p);
      ++hopper_wgmma;
    }
  }
  EXPECT_GT(hopper_wgmma, 0);
  for (const Point& p : s.enumerate(&ampere)) {
    const auto c = gdn::FwdPlanConfig::from_point(p);
    EXPECT_TRUE(c.variant != 3 && c.state_variant != 2) << s.label(p);
  }
}

TEST(GdnTunableKernels, TheUntunedStatePassFamily) {
  EXPECT_STREQ(gdn::untuned_state_pass_family(kH100, 64), "gdn.state_pass_wgmma");
  EXPECT_STREQ(gdn::untuned_state_pass_family(kH100, 32), "gdn.state_pass");
  const ArchInfo ampere{8, 0, 108, 166912, 65536, 40 << 20};
  EXPECT_STREQ(gdn::untuned_state_pass_family(ampere, 64), "gdn.state_pass");
}

// Every trial times the whole op with the other roles untuned, so what the untuned op runs is part
// of every trial's identity: the same family (same sources) on targets whose untuned ops differ
// gets different identities, and the signature is stable run to run.
TEST(GdnTunableKernels, EveryTrialIdentityCarriesTheUntunedOp) {
  const ArchInfo ampere{8, 0, 108, 166912, 65536, 40 << 20};
  const std::string hopper_op = gdn::untuned_op_signature(kH100);
  EXPECT_EQ(gdn::untuned_op_signature(kH100), hopper_op);
  EXPECT_NE(gdn::untuned_op_signature(ampere), hopper_op);
  EXPECT_NE(hopper_op.find("c64.b16.w4.vh0.cs1"), std::string::npos) << hopper_op;
  EXPECT_NE(hopper_op.find("gdn.fused_fwd_wgmma"), std::string::npos) << hopper_op;
  for (const char* id : {"gdn.cumsum", "gdn.kkt_solve", "gdn.fwd_plan"}) {
    const auto on_hopper = gdn_tunable_kernels({id}, kH100);
    const auto on_ampere = gdn_tunable_kernels({id}, ampere);
    ASSERT_EQ(on_hopper.size(), 1u);
    ASSERT_EQ(on_ampere.size(), 1u);
    EXPECT_NE(on_hopper[0].source_hash, on_ampere[0].source_hash) << id;
  }
}

// A cumsum trial must run the cumsum kernel: the untuned kkt_solve writes the gate's cumsum itself
// (fp32 gate), so the trial pins a kkt_solve without it at the trial's chunk size.
TEST(GdnTrialConfigs, ACumsumTrialRunsTheCumsumKernel) {
  TrialRequest r;
  r.kernel = "gdn.cumsum";
  r.problem.tokens = 2048;
  r.problem.h_qk = 2;
  r.problem.h_v = 8;
  const SpaceDecl& kkt = gdn::kkt_solve_space();
  for (int chunk : {64, 32}) {
    r.config = {chunk};
    const auto configs = gdn_trial_configs(r);
    EXPECT_EQ(configs.at("gdn.cumsum"), (Point{chunk}));
    ASSERT_TRUE(configs.count("gdn.kkt_solve")) << chunk;
    EXPECT_EQ(kkt.label(configs.at("gdn.kkt_solve")),
              "c" + std::to_string(chunk) + ".b16.w4.vh0.cs0");
  }
  r.config = {128};  // no kkt_solve at C = 128: nothing pinned (the plan refuses it)
  EXPECT_FALSE(gdn_trial_configs(r).count("gdn.kkt_solve"));
  r.config = {64};
  r.members["gdn.kkt_solve"] = {64, 32, 8, 1, 1};  // given: kept
  EXPECT_EQ(gdn_trial_configs(r).at("gdn.kkt_solve"), (Point{64, 32, 8, 1, 1}));
  TrialRequest k;  // any other kernel: its members and its own config, nothing added
  k.kernel = "gdn.kkt_solve";
  k.problem = r.problem;
  k.config = {64, 16, 4, 0, 1};
  EXPECT_EQ(gdn_trial_configs(k), (std::map<std::string, Point>{{"gdn.kkt_solve", k.config}}));
}

TEST_F(GdnStore, PlanMembersAreEachKernelsBestAtThePlansChunkSize) {
  put("gdn.fused_fwd", {64, 64, 2, 8, 0}, 100);
  put("gdn.fused_fwd", {32, 128, 2, 4, 0}, 90);
  put("gdn.fused_fwd", {32, 64, 2, 8, 0}, 95);
  put("gdn.fused_fwd_ws", {32, 128, 2, 8, 40}, 85);
  put("gdn.kkt_solve", {64, 32, 8, 0, 0}, 80);
  put("gdn.cp_correct", {32, 1, 2, 1}, 70);
  const auto members = gdn_plan_members(*store_, device_, kH100);
  // Variant 1: the mma kernel fills the chunk-forward role, the warp-specialised one stays out.
  const Members at32 = members(problem_, {32, 2, 0, 10, 1, 0});
  EXPECT_EQ(at32.at("gdn.fused_fwd").label, "c32.bv128.s2.w4.sm0");
  EXPECT_EQ(at32.count("gdn.fused_fwd_ws"), 0u);
  EXPECT_EQ(at32.count("gdn.kkt_solve"),
            0u);  // nothing measured at C = 32: its default, moved, runs
  EXPECT_EQ(at32.at("gdn.cp_correct").label, "bv32.ms1.sk2.rt1");  // shares no chunk size
  // Its untuned point: 2/8 heads, 8192 tokens split by CP auto into 8 pieces (qla's piece length,
  // 16 chunks), 8 x 8 = 64 CTAs per V-slice < 0.7 x 132 SMs → BV 64. Not the baseline member: the
  // untuned op runs the warp-specialised kernel here.
  EXPECT_EQ(at32.at("gdn.fused_fwd").default_label, "c64.bv64.s2.w8.sm0");
  EXPECT_FALSE(at32.at("gdn.fused_fwd").baseline);
  // Variant 0 on sm_90a: the untuned op's family, the warp-specialised kernel, which is the
  // baseline member.
  const Members untuned = members(problem_, {32, 2, 0, 10, 0, 0});
  EXPECT_EQ(untuned.count("gdn.fused_fwd"), 0u);
  EXPECT_EQ(untuned.at("gdn.fused_fwd_ws").label, "c32.bv128.s2.w8.rs40");
  EXPECT_EQ(untuned.at("gdn.fused_fwd_ws").default_label, "c64.bv64.s2.w8.rs40");
  EXPECT_TRUE(untuned.at("gdn.fused_fwd_ws").baseline);
  const Members at64 = members(problem_, {64, 2, 0, 10, 1, 0});
  EXPECT_EQ(at64.at("gdn.fused_fwd").label, "c64.bv64.s2.w8.sm0");
  EXPECT_EQ(at64.at("gdn.kkt_solve").label, "c64.b32.w8.vh0.cs0");
  EXPECT_EQ(members(problem_, {64, 2, 0, 10, 2, 0}).count("gdn.fused_fwd_ws"), 0u)
      << "nothing at C = 64";
  // Winners do not change the members (a plan's adoption rewrites them; a rerun must see the same
  // members).
  store_->put_winner(device_, kernels_.at("gdn.fused_fwd").identity(), problem_,
                     {"c32.bv64.s2.w8.sm0", {32, 64, 2, 8, 0}, 94, 0}, 0);
  EXPECT_EQ(members(problem_, {32, 0, 0, 10, 1, 0}).at("gdn.fused_fwd").label,
            "c32.bv128.s2.w4.sm0");
}

TEST_F(GdnStore, TheLookupServesThePlanWithTheKernels) {
  put("gdn.fwd_plan", {32, 1, 16, 6, 2, 0}, 50);
  put("gdn.fused_fwd", {32, 128, 2, 4, 0}, 90);
  put("gdn.fused_fwd_ws", {32, 64, 3, 8, 24}, 80);
  const auto lookup = gdn_lookup(*store_, device_, kH100);
  const LookupResult plan = lookup->find("gdn.fwd_plan", problem_);
  EXPECT_EQ(plan.provenance, Provenance::kExact);
  EXPECT_EQ(plan.config, (Point{32, 1, 16, 6, 2, 0}));
  EXPECT_EQ(lookup->find("gdn.fused_fwd", problem_).config, (Point{32, 128, 2, 4, 0}));
  EXPECT_EQ(lookup->find("gdn.fused_fwd_ws", problem_).config, (Point{32, 64, 3, 8, 24}));
  EXPECT_EQ(lookup->find("gdn.kkt_solve", problem_).provenance, Provenance::kHeuristic);
}

// `qla db prune` keeps the trials of this build's identities on the cards a store has seen. The
// untuned op in every identity reads the card's SM count, so a named target (no SM count) alone
// would count a real card's fresh trials as superseded.
TEST(GdnTunableKernels, CurrentIdentitiesFollowTheStoresCards) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("qla-cards-" + std::to_string(std::random_device{}()) + ".sqlite");
  struct Remove {
    std::filesystem::path p;
    ~Remove() {
      std::error_code ec;
      for (const char* tail : {"", "-wal", "-shm"}) std::filesystem::remove(p.string() + tail, ec);
    }
  } remove{path};
  Store s = Store::open(path.string(), Store::Mode::kReadWrite);
  DeviceFingerprint h200;
  h200.name = "NVIDIA H200";
  h200.cc_major = 9;
  h200.cc_minor = 0;
  h200.sm_count = 132;
  h200.l2_bytes = 60 << 20;
  s.ensure_device(h200);
  const std::optional<ArchInfo> arch = gdn_arch_of(h200);
  ASSERT_TRUE(arch.has_value());
  EXPECT_EQ(arch->sm_count, 132);
  EXPECT_EQ(arch->smem_per_block_optin, kH100.smem_per_block_optin);

  const auto id_of = [](const ArchInfo& a) {
    return gdn_tunable_kernels({"gdn.fwd_plan"}, a).at(0).identity();
  };
  const KernelIdentity on_card = id_of(*arch), named = id_of(ArchInfo::named("sm_90a"));
  ASSERT_NE(on_card.source_hash, named.source_hash) << "the SM count no longer enters the identity";
  const auto has = [](const std::vector<KernelIdentity>& v, const KernelIdentity& k) {
    return std::any_of(v.begin(), v.end(), [&](const KernelIdentity& c) {
      return c.kernel == k.kernel && c.source_hash == k.source_hash && c.space_hash == k.space_hash;
    });
  };
  const std::vector<KernelIdentity> current = gdn_current_identities(s);
  EXPECT_TRUE(has(current, on_card));
  EXPECT_TRUE(has(current, named));

  DeviceFingerprint unknown = h200;  // a compute capability qla names no target for
  unknown.cc_major = 7;
  unknown.cc_minor = 5;
  EXPECT_FALSE(gdn_arch_of(unknown).has_value());
}

}  // namespace
}  // namespace qla::tuner
