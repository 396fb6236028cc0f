#include "qla/space.hpp"

#include <gtest/gtest.h>

#include "qla/error.hpp"

namespace qla {
namespace {

SpaceDecl toy() {
  SpaceDecl s;
  s.kernel = "toy";
  s.axes = {{"chunk", "c", {32, 64}, ""},
            {"block_v", "bv", {32, 64, 128}, ""},
            {"stages", "s", {1, 2}, ""}};
  s.default_point = {64, 64, 2};
  s.buildable = [](const Point& p, const ArchInfo& a) {
    return p[0] * p[1] * p[2] * 16 <= a.smem_per_block_optin / 16;
  };
  return s;
}

TEST(Space, EnumeratesLastAxisFastest) {
  const SpaceDecl s = toy();
  ASSERT_EQ(s.size(), 12u);
  const auto all = s.enumerate();
  ASSERT_EQ(all.size(), 12u);
  EXPECT_EQ(all[0], (Point{32, 32, 1}));
  EXPECT_EQ(all[1], (Point{32, 32, 2}));
  EXPECT_EQ(all[11], (Point{64, 128, 2}));
}

TEST(Space, BuildableFilter) {
  const SpaceDecl s = toy();
  const ArchInfo arch = ArchInfo::named("sm_90a");
  const auto ok = s.enumerate(&arch);
  EXPECT_LT(ok.size(), s.size());
  for (const auto& p : ok) EXPECT_TRUE(s.is_buildable(p, arch));
}

TEST(Space, LabelRoundTrip) {
  const SpaceDecl s = toy();
  for (const auto& p : s.enumerate()) {
    const auto back = s.parse(s.label(p));
    ASSERT_TRUE(back.has_value()) << s.label(p);
    EXPECT_EQ(*back, p);
  }
  EXPECT_EQ(s.label({64, 64, 2}), "c64.bv64.s2");
  EXPECT_FALSE(s.parse("c64.bv64").has_value());
  EXPECT_FALSE(s.parse("c64.bv64.s2.x1").has_value());
  EXPECT_FALSE(s.parse("c64.bv48.s2").has_value());  // not an axis value
  EXPECT_FALSE(s.parse("c64.bvx.s2").has_value());
}

TEST(Space, HashSeesEveryAxisValue) {
  SpaceDecl a = toy(), b = toy();
  EXPECT_EQ(a.hash(), b.hash());
  b.axes[1].values.push_back(256);
  EXPECT_NE(a.hash(), b.hash());
}

// The arch facts come from the device or a named target, never from a default card.
TEST(ArchInfo, NamedTargetsAndNoDefaultCard) {
  const ArchInfo unknown;
  EXPECT_EQ(unknown.cc_major, 0);
  EXPECT_EQ(unknown.smem_per_block_optin, 0);
  EXPECT_FALSE(unknown.has_tma());
  const ArchInfo h = ArchInfo::named("sm_90a");
  EXPECT_EQ(h.sm_name(), "sm_90a");
  EXPECT_EQ(h.smem_per_block_optin, 232448);
  EXPECT_EQ(h.sm_count, 0) << "a target is not a card";
  EXPECT_TRUE(h.has_wgmma() && h.has_tma() && h.has_clusters() && h.has_setmaxnreg());
  const ArchInfo a = ArchInfo::named("80");
  EXPECT_EQ(a.smem_per_block_optin, 166912);
  EXPECT_FALSE(a.has_tma());
  EXPECT_FALSE(ArchInfo::named("sm_89").has_setmaxnreg());
  EXPECT_THROW(ArchInfo::named("sm_75a"), UserError);
  EXPECT_THROW(ArchInfo::named("sm_80a"), UserError);
  EXPECT_THROW(ArchInfo::named("hopper"), UserError);
}

}  // namespace
}  // namespace qla
