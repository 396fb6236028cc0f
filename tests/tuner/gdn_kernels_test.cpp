// The tunable kernels of the fused forward, as `qla tune` enumerates them without a GPU.
#include <gtest/gtest.h>

#include <set>

#include "qla/error.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/tuner/gdn_adapter.hpp"

namespace qla::tuner {
namespace {

TEST(GdnTunableKernels, TheForwardKernelsAndThePlanKnobs) {
  const ArchInfo hopper;
  const auto all = gdn_tunable_kernels({}, hopper);
  std::set<std::string> ids;
  for (const auto& k : all) ids.insert(k.space.kernel);
  for (const char* id : {"gdn.fused_fwd", "gdn.kkt_solve", "gdn.state_pass", "gdn.fwd_plan"})
    EXPECT_TRUE(ids.count(id)) << id;
  EXPECT_FALSE(ids.count("gdn.naive_fwd")) << "baselines are not part of the fused op";
  for (const auto& k : all) {
    EXPECT_FALSE(k.source_hash.empty()) << k.space.kernel;
    EXPECT_GT(k.space.size(), 1u) << k.space.kernel;
  }
}

TEST(GdnTunableKernels, PlanKnobsNeedNoCompileAndFollowTheKernelSources) {
  const ArchInfo hopper;
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

}  // namespace
}  // namespace qla::tuner
