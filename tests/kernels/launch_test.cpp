// The launch boundary on the CPU: the kernel cache keeps one entry per (device, spec), a Params
// type that does not match the spec is refused before anything reaches CUDA, and every family's
// specs declare their Params.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <string>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/cuda/launcher.hpp"
#include "qla/error.hpp"

namespace qla::cuda {
namespace {

struct SmallParams {
  int a;
  float b;
};
struct LargeParams {
  double x[4];
};

KernelSpec spec_of(const std::string& name) {
  return {"test/fake.cuh", name, params_layout<SmallParams>()};
}

/// A cache whose resolver counts calls and whose current device the test sets.
struct CountingCache {
  int device = 0;
  int resolved = 0;
  KernelCache cache{[this](const KernelSpec& s, int, bool) {
                      ++resolved;
                      return std::make_unique<Kernel>(s, ResourceUsage{});
                    },
                    [this] { return device; }};
};

TEST(KernelCache, KeepsOneKernelPerDeviceAndSpec) {
  CountingCache c;
  const Kernel& on0 = c.cache.get(spec_of("k<1>"));
  EXPECT_EQ(&c.cache.get(spec_of("k< 1 >")), &on0)
      << "whitespace in the name expression is not a new kernel";
  EXPECT_EQ(c.resolved, 1);
  c.device = 1;
  const Kernel& on1 = c.cache.get(spec_of("k<1>"));
  EXPECT_NE(&on1, &on0) << "a kernel resolved on device 0 was handed out on device 1";
  EXPECT_EQ(c.resolved, 2);
  c.device = 0;
  EXPECT_EQ(&c.cache.get(spec_of("k<1>")), &on0);
  EXPECT_NE(&c.cache.get(spec_of("k<2>")), &on0);
  EXPECT_NE(&c.cache.get(spec_of("k<1>"), /*allow_aot=*/false), &on0)
      << "a forced JIT kernel is its own entry";
  EXPECT_EQ(c.resolved, 4);
  EXPECT_EQ(c.cache.size(), 4u);
}

TEST(KernelLaunch, RefusesAParamsTypeThatIsNotTheSpecs) {
  const Kernel k(spec_of("k<1>"), ResourceUsage{});
  const LaunchShape shape;
  const LargeParams large{};
  EXPECT_EQ(k.try_launch(shape, &large, nullptr), cudaErrorInvalidValue);
  try {
    k.launch(shape, &large, nullptr);
    ADD_FAILURE() << "a 32-byte Params was launched into a kernel of 8";
  } catch (const ApiError& e) {
    EXPECT_NE(std::string(e.what()).find("32 bytes"), std::string::npos) << e.what();
  }
  // The right type gets past the check; this kernel has no code, so the launch itself is refused.
  const SmallParams small{};
  EXPECT_EQ(k.try_launch(shape, &small, nullptr), cudaErrorInvalidDeviceFunction);
  EXPECT_EQ(k.try_launch(shape, static_cast<const SmallParams*>(nullptr), nullptr),
            cudaErrorInvalidValue);
  const Kernel undeclared(KernelSpec{"test/fake.cuh", "k<3>", {}}, ResourceUsage{});
  EXPECT_EQ(undeclared.try_launch(shape, &small, nullptr), cudaErrorInvalidValue);
}

TEST(KernelLaunch, ClusterAttributeOnlyWhenAsked) {
  LaunchShape s;
  EXPECT_FALSE(s.has_cluster());
  s.cluster = {2, 1, 1};
  EXPECT_TRUE(s.has_cluster());
}

TEST(KernelCatalog, EverySpecDeclaresItsParams) {
  const auto families = kernel_families();
  ASSERT_FALSE(families.empty());
  for (const KernelFamily& f : families) {
    for (const KernelSpec& s : f.specs(f.space->default_point)) {
      EXPECT_GT(s.params.size, 0u) << s.name_expression;
      EXPECT_GT(s.params.align, 0u) << s.name_expression;
    }
  }
}

}  // namespace
}  // namespace qla::cuda
