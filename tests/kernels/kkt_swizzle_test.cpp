// kkt_solve's swizzled fp32 tiles (qla/gdn/fused_params.hpp, kkt_swizzled) on the CPU: every row is
// a permutation of its columns that keeps 16-byte groups whole, and each shared-memory access
// pattern of the kernel's merges and store touches the banks it claims (a bank is a 4-byte word mod
// 32).
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "qla/gdn/fused_params.hpp"

namespace qla::gdn {
namespace {

constexpr int kBanks = 32;

/// How many of `words` fall into the busiest bank.
int worst_bank_load(const std::vector<int>& words) {
  std::vector<int> load(kBanks, 0);
  int worst = 0;
  for (int w : words) worst = std::max(worst, ++load[w % kBanks]);
  return worst;
}

TEST(KktSwizzle, EveryRowIsAPermutationKeepingSixteenByteGroups) {
  for (int cols : {32, 64}) {
    for (int r = 0; r < cols; ++r) {
      std::set<int> seen;
      for (int c = 0; c < cols; ++c) {
        const int at = kkt_swizzled(cols, r, c) - r * cols;
        ASSERT_GE(at, 0);
        ASSERT_LT(at, cols);
        seen.insert(at);
        // Column c and its group's first column land in the same group, in the same order.
        EXPECT_EQ(at - (kkt_swizzled(cols, r, c & ~3) - r * cols), c & 3)
            << cols << " " << r << " " << c;
        EXPECT_EQ((kkt_swizzled(cols, r, c & ~3) - r * cols) % 4, 0);
      }
      EXPECT_EQ(static_cast<int>(seen.size()), cols) << "C " << cols << ", row " << r;
    }
  }
}

TEST(KktSwizzle, MergeOperandReadsTouchThirtyTwoBanks) {
  // m16n8k8 TF32 fragments: lane (g, t) reads A at (row g or g + 8, column t or t + 4) of a tile
  // whose rows start at a multiple of 16 and columns at a multiple of 8, and B at (row t or t + 4,
  // column g) of a tile whose rows start at a multiple of 8 and columns at a multiple of 8.
  for (int cols : {32, 64}) {
    for (int r0 = 0; r0 < cols; r0 += 8) {
      for (int c0 = 0; c0 < cols; c0 += 8) {
        for (int dr : {0, 8}) {
          for (int dc : {0, 4}) {
            if (r0 % 16 == 0 && r0 + dr + 8 <= cols) {
              std::vector<int> a;
              for (int lane = 0; lane < 32; ++lane)
                a.push_back(kkt_swizzled(cols, r0 + dr + lane / 4, c0 + dc + lane % 4));
              EXPECT_EQ(worst_bank_load(a), 1) << "A, C " << cols << " at " << r0 << "," << c0;
            }
          }
          std::vector<int> b;
          for (int lane = 0; lane < 32; ++lane)
            b.push_back(kkt_swizzled(cols, r0 + (dr ? 4 : 0) + lane % 4, c0 + lane / 4));
          EXPECT_EQ(worst_bank_load(b), 1) << "B, C " << cols << " at " << r0 << "," << c0;
        }
      }
    }
  }
}

TEST(KktSwizzle, AccumulatorPairWritesTakeTwoWavefronts) {
  // Lane (g, t) writes 8 bytes at (row g or g + 8, columns 2t, 2t + 1): 64 words, each bank twice.
  for (int cols : {32, 64}) {
    for (int r0 = 0; r0 < cols; r0 += 16) {
      for (int c0 = 0; c0 < cols; c0 += 8) {
        for (int dr : {0, 8}) {
          std::vector<int> words;
          for (int lane = 0; lane < 32; ++lane) {
            const int at = kkt_swizzled(cols, r0 + dr + lane / 4, c0 + 2 * (lane % 4));
            EXPECT_EQ(at % 2, 0);  // 8-byte aligned
            EXPECT_EQ(kkt_swizzled(cols, r0 + dr + lane / 4, c0 + 2 * (lane % 4) + 1), at + 1);
            words.push_back(at);
            words.push_back(at + 1);
          }
          EXPECT_EQ(worst_bank_load(words), 2) << "C " << cols << " at " << r0 << "," << c0;
        }
      }
    }
  }
}

TEST(KktSwizzle, StoreReadsOfSixteenByteGroupsTouchThirtyTwoBanksPerQuarterWarp) {
  // The store: thread e reads group e mod (C / 4) of row e / (C / 4); 8 lanes make a 16-byte
  // wavefront.
  for (int cols : {32, 64}) {
    const int groups = cols / 4;
    for (int first = 0; first < cols * groups; first += 8) {
      std::vector<int> words;
      for (int e = first; e < first + 8; ++e)
        for (int w = 0; w < 4; ++w)
          words.push_back(kkt_swizzled(cols, e / groups, 4 * (e % groups)) + w);
      EXPECT_EQ(worst_bank_load(words), 1) << "C " << cols << ", threads " << first << "..";
    }
  }
}

}  // namespace
}  // namespace qla::gdn
