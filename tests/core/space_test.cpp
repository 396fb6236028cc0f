#include "qla/space.hpp"

#include <gtest/gtest.h>

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
  ArchInfo arch;
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

}  // namespace
}  // namespace qla
