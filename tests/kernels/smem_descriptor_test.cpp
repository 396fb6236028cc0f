// The wgmma shared-memory descriptor on the CPU: its bit fields as the PTX ISA lays them out, and
// descriptor_plus (one descriptor per tile, a k-slice's by a 32-bit add) against the descriptor of
// the moved start for every address shared memory can hold and every offset the wgmma kernels use.
#include "qla/cuda/smem_descriptor.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace qla::cuda {
namespace {

constexpr unsigned kSmemBytes = 227 * 1024;  // the most a CTA can hold on sm_90
constexpr unsigned kBox = 64 * 64 * 2;       // one SW128 box of 64 rows

TEST(SmemDescriptor, FieldsSitWhereThePtxIsaPutsThem) {
  const unsigned long long d = smem_descriptor_at(0x1230u, 16, 1024, SmemLayout::kSwizzle128B);
  EXPECT_EQ(d & 0x3FFFu, 0x123u);       // start address >> 4, bits 0-13
  EXPECT_EQ((d >> 16) & 0x3FFFu, 1u);   // leading byte offset >> 4, bits 16-29
  EXPECT_EQ((d >> 32) & 0x3FFFu, 64u);  // stride byte offset >> 4, bits 32-45
  EXPECT_EQ((d >> 49) & 0x7u, 0u);      // base offset 0
  EXPECT_EQ(d >> 62, 1u);               // 128-byte swizzle
  EXPECT_EQ(smem_descriptor_at(0, 0, 0, SmemLayout::kSwizzle32B) >> 62, 3u);
  EXPECT_EQ(smem_descriptor_at(0x40010u, 0, 0, SmemLayout::kInterleave), 1u);  // 18-bit window
}

TEST(SmemDescriptor, PlusEqualsTheDescriptorOfTheMovedStart) {
  // A k-slice of a K-major operand (32 B a slice inside a box, the next box kBox on), of an
  // MN-major one (2048 B a slice), and a whole tile further.
  std::vector<unsigned> offsets;
  for (int k16 = 0; k16 < 8; ++k16) offsets.push_back((k16 / 4) * kBox + (k16 % 4) * 32);
  for (int k16 = 0; k16 < 4; ++k16) offsets.push_back(k16 * 2048);
  offsets.push_back(2 * kBox);
  int checked = 0;
  for (unsigned addr = 0; addr < kSmemBytes; addr += 16) {
    for (unsigned off : offsets) {
      if (addr + off >= kSmemBytes) continue;
      for (unsigned lbo : {16u, kBox}) {
        const unsigned long long base =
            smem_descriptor_at(addr, lbo, 1024, SmemLayout::kSwizzle128B);
        ASSERT_EQ(descriptor_plus(base, off),
                  smem_descriptor_at(addr + off, lbo, 1024, SmemLayout::kSwizzle128B))
            << "addr " << addr << " + " << off << " bytes, LBO " << lbo;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 300000);
}

TEST(SmemDescriptor, PlusIsOnlyValidBelow256KiB) {
  // At 256 KiB the add carries out of the 14-bit start field: the reason the helper's contract is
  // a shared-memory address (below 256 KiB on every GPU so far).
  const unsigned long long base = smem_descriptor_at(0x3FFF0u, 16, 1024, SmemLayout::kSwizzle128B);
  EXPECT_NE(descriptor_plus(base, 16),
            smem_descriptor_at(0x40000u, 16, 1024, SmemLayout::kSwizzle128B));
}

}  // namespace
}  // namespace qla::cuda
