// One declaration per family (qla/family.hpp) on the CPU: everything derived from a family's table
// (its space, point ⇄ Config by axis name, the compile-time membership test, the catalog entry),
// and, for every family the library registers, that its declaration is coherent and its AOT set is
// what the library built.
#include "qla/family.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "qla/cuda/aot_registry.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"
#include "qla/gdn/plan.hpp"

namespace qla {
namespace {

struct ToyConfig {
  int tile = 64;
  int depth = 2;
  int unused = 7;  ///< no axis: keeps the family's default
};

inline constexpr int kToyTiles[] = {32, 64, 128};
inline constexpr int kToyDepths[] = {1, 2, 3};

struct ToyFamily {
  using Config = ToyConfig;
  static constexpr const char* kId = "test.toy";
  static constexpr const char* kRole = "toy_role";
  static constexpr const char* kVariant = "simt";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("tile", "t", &Config::tile, kToyTiles, "tile width"),
      axis("depth", "d", &Config::depth, kToyDepths, "ring depth"),
  };
  static constexpr Config kDefault = {64, 2, 9};
  static constexpr Config kAot[] = {Config{64, 2, 9}};
  static bool buildable(const Config& c, const ArchInfo& arch) {
    return c.tile * c.depth <= arch.regs_per_sm / 512;
  }
  static std::vector<cuda::KernelSpec> specs(const Config& c) {
    return {{"test/toy.cuh",
             "toy<" + std::to_string(c.tile) + ", " + std::to_string(c.depth) + ">",
             {8, 8}}};
  }
};

// The membership test is constexpr: a deployment header static_asserts its rows with it.
static_assert(in_space<ToyFamily>(ToyConfig{128, 3, 0}));
static_assert(!in_space<ToyFamily>(ToyConfig{48, 3, 0}));
static_assert(in_space_values<ToyFamily>({32, 1}));
static_assert(!in_space_values<ToyFamily>({32, 4}));
static_assert(config_of<ToyFamily>({128, 1}).tile == 128 &&
              config_of<ToyFamily>({128, 1}).unused == 9);
static_assert(axis_count<ToyFamily>() == 2);

TEST(Family, TheSpaceIsDerivedFromTheTable) {
  const SpaceDecl& s = space_of<ToyFamily>();
  EXPECT_EQ(&s, &space_of<ToyFamily>()) << "one space per family";
  EXPECT_EQ(s.kernel, "test.toy");
  EXPECT_FALSE(s.runtime);
  ASSERT_EQ(s.axes.size(), 2u);
  EXPECT_EQ(s.axes[0].name, "tile");
  EXPECT_EQ(s.axes[0].label, "t");
  EXPECT_EQ(s.axes[0].values, (std::vector<int>{32, 64, 128}));
  EXPECT_EQ(s.axes[1].doc, "ring depth");
  EXPECT_EQ(s.default_point, (Point{64, 2}));
  EXPECT_EQ(s.label(s.default_point), "t64.d2");
  ArchInfo arch;
  arch.regs_per_sm = 512 * 192;  // tile · depth ≤ 192
  EXPECT_TRUE(s.is_buildable({64, 3}, arch));
  EXPECT_FALSE(s.is_buildable({128, 2}, arch));
  EXPECT_EQ(s.enumerate(&arch).size(), 7u);  // 32x{1,2,3}, 64x{1,2,3}, 128x1
}

TEST(Family, PointsAndConfigsConvertByAxis) {
  const ToyConfig c = from_point<ToyFamily>({128, 1});
  EXPECT_EQ(c.tile, 128);
  EXPECT_EQ(c.depth, 1);
  EXPECT_EQ(c.unused, 9) << "a field without an axis keeps the family's default";
  EXPECT_EQ(to_point<ToyFamily>(c), (Point{128, 1}));
  EXPECT_THROW(from_point<ToyFamily>({128}), UserError);
  EXPECT_THROW(from_point<ToyFamily>({128, 4}), UserError);
  const SpaceDecl& s = space_of<ToyFamily>();
  EXPECT_EQ(value_of(s, {32, 3}, "depth"), 3);
  EXPECT_EQ(with_value(s, {32, 3}, "tile", 128), (Point{128, 3}));
  EXPECT_THROW(value_of(s, {32, 3}, "stages"), UserError);
  EXPECT_THROW(with_value(s, {32, 3}, "tile", 48), UserError);
}

TEST(Family, RegistrationCarriesRoleVariantAndAotSet) {
  static const bool registered = cuda::register_family<ToyFamily>();
  ASSERT_TRUE(registered);
  const cuda::KernelFamily* f = cuda::find_kernel_family("test.toy");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->role, "toy_role");
  EXPECT_EQ(f->variant, "simt");
  EXPECT_EQ(f->aot, (std::vector<Point>{{64, 2}}));
  ASSERT_EQ(f->specs({32, 3}).size(), 1u);
  EXPECT_EQ(f->specs({32, 3})[0].name_expression, "toy<32, 3>");
}

// Every family the library registers: a coherent declaration, and its AOT set built into the
// library.
TEST(Family, EveryRegisteredFamilyIsCoherentAndItsAotSetIsBuilt) {
  const ArchInfo sm90a = ArchInfo::named("sm_90a");  // the target of the library's AOT units
  std::set<std::string> ids;
  int aot_kernels = 0;
  for (const cuda::KernelFamily& f : cuda::kernel_families()) {
    const SpaceDecl& s = *f.space;
    if (s.kernel == "test.toy") continue;
    SCOPED_TRACE(s.kernel);
    EXPECT_TRUE(ids.insert(s.kernel).second) << "registered twice";
    EXPECT_FALSE(f.role.empty());
    EXPECT_FALSE(f.variant.empty());
    EXPECT_TRUE(s.contains(s.default_point));
    for (const Point& p : s.enumerate()) EXPECT_EQ(s.parse(s.label(p)), p) << s.label(p);
    ASSERT_FALSE(f.aot.empty());
    EXPECT_EQ(f.aot.front(), s.default_point) << "the default is built ahead of time first";
    for (const Point& p : f.aot) {
      EXPECT_TRUE(s.contains(p) && s.is_buildable(p, sm90a)) << s.label(p);
      for (const cuda::KernelSpec& spec : f.specs(p)) {
        EXPECT_GT(spec.params.size, 0u) << spec.name_expression;
        EXPECT_NE(cuda::find_aot_kernel(spec.source, spec.name_expression), nullptr)
            << spec.name_expression;
        ++aot_kernels;
      }
    }
  }
  for (const char* role : gdn::kFusedForwardRoles) {
    bool filled = false;
    for (const cuda::KernelFamily& f : cuda::kernel_families()) filled |= f.role == role;
    EXPECT_TRUE(filled) << "no family fills role " << role;
  }
  for (const char* id : gdn::kChunkFwdVariants) {
    if (*id == '\0') continue;
    EXPECT_EQ(cuda::find_kernel_family(id)->role, "chunk_fwd") << id;
  }
  EXPECT_GT(aot_kernels, 0);
}

}  // namespace
}  // namespace qla
