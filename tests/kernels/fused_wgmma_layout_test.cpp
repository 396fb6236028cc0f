// The wgmma chunk forward's shared-memory layout on the CPU: every tile a wgmma descriptor or a TMA
// box addresses starts 1024-byte aligned (the 128-byte swizzle's atom), no two regions overlap, the
// mbarriers are 8-byte aligned, and the whole fits the 227 KB a CTA can hold on sm_90 at every
// stage count the family builds.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "qla/gdn/fused_wgmma_params.hpp"

namespace qla::gdn {
namespace {

struct Region {
  std::string name;
  int begin, end;
};

std::vector<Region> regions(const FusedWgmmaLayout& l, int stages) {
  constexpr int kBox = FusedWgmmaLayout::kBox;
  std::vector<Region> r;
  for (int s = 0; s < stages; ++s) {
    const int base = s * l.stage_bytes;
    const std::string st = "stage " + std::to_string(s) + " ";
    r.push_back({st + "q", base + l.q, base + l.q + 2 * kBox});
    r.push_back({st + "k", base + l.k, base + l.k + 2 * kBox});
    r.push_back({st + "v", base + l.v, base + l.v + kBox});
    r.push_back({st + "a", base + l.a, base + l.a + kBox});
  }
  for (int i = 0; i < 2; ++i) {
    r.push_back({"aux " + std::to_string(i), l.aux + i * 2 * kBox, l.aux + (i + 1) * 2 * kBox});
    r.push_back({"o " + std::to_string(i), l.o + i * FusedWgmmaLayout::kOSlot,
                 l.o + (i + 1) * FusedWgmmaLayout::kOSlot});
  }
  r.push_back({"gates", l.gates, l.gates + stages * kFusedWgmmaGateBytes});
  r.push_back({"bars", l.bars, l.bars + (3 * stages + 8) * 8});
  return r;
}

class FusedWgmmaLayoutTest : public ::testing::TestWithParam<int> {};

TEST_P(FusedWgmmaLayoutTest, TilesAlignedDisjointAndWithinTheCtaLimit) {
  const int stages = GetParam();
  const FusedWgmmaLayout l = fused_wgmma_layout(stages);
  std::vector<Region> r = regions(l, stages);
  for (const Region& x : r) {
    if (x.name == "gates" || x.name == "bars") continue;
    EXPECT_EQ(x.begin % 1024, 0) << x.name << " is not 1024-byte aligned";
  }
  EXPECT_EQ(l.gates % 16, 0);  // the gate warp's float2 / float4 reads
  EXPECT_EQ(l.bars % 8, 0);
  std::sort(r.begin(), r.end(), [](const Region& a, const Region& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < r.size(); ++i)
    EXPECT_LE(r[i - 1].end, r[i].begin) << r[i - 1].name << " overlaps " << r[i].name;
  EXPECT_EQ(r.front().begin, 0);
  EXPECT_LE(r.back().end + 1024, l.bytes) << "the base alignment's 1024 bytes are not reserved";
  EXPECT_LE(l.bytes, 227 * 1024);
}

INSTANTIATE_TEST_SUITE_P(Stages, FusedWgmmaLayoutTest, ::testing::Values(2, 3));

}  // namespace
}  // namespace qla::gdn
