// The call's sequence metadata on the host (qla/gdn/work_list.hpp): the capacity bounds every list
// of every batch, the chunk list names each chunk once and covers the padding rows, and the CP
// split is qla::gdn::cp_split's. The device kernel is compared with this builder in
// small_kernels_test.
#include "qla/gdn/work_list.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "qla/error.hpp"
#include "qla/gdn/call_error.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/gdn/problem.hpp"

namespace qla::gdn {
namespace {

struct Batch {
  std::vector<int> cu;  // empty: fixed length
  int sequences;
  long long tokens_per_row, rows;
};

std::vector<Batch> random_batches() {
  std::mt19937 rng(11);
  std::vector<Batch> out;
  for (int i = 0; i < 300; ++i) {
    const int n = 1 + static_cast<int>(rng() % (i < 200 ? 8 : 1500));
    std::vector<int> cu{0};
    for (int s = 0; s < n; ++s) {
      const int kind = static_cast<int>(rng() % 4);
      const int len = kind == 0   ? 0
                      : kind == 1 ? 1
                                  : static_cast<int>(rng() % (i < 200 ? 3000 : 90));
      cu.push_back(cu.back() + len);
    }
    const long long rows = cu.back() + static_cast<long long>(rng() % 100);  // padding rows
    out.push_back({cu, n, rows, rows});
  }
  out.push_back({{}, 4, 1000, 4000});  // fixed length
  out.push_back({{}, 1, 1, 1});
  out.push_back({{0}, 0, 0, 0});  // no sequences at all
  return out;
}

Problem problem_of(const Batch& b) {
  Problem p;
  if (b.cu.empty()) {
    p.batch = b.sequences;
    p.tokens = b.tokens_per_row;
  } else {
    p.tokens = b.rows;
    p.cu_seqlens.assign(b.cu.begin(), b.cu.end());
  }
  return p;
}

TEST(WorkList, ChunksAreListedOnceAndPaddingEntriesCoverTheRowsAfterTheLastSequence) {
  for (const Batch& b : random_batches()) {
    for (int c : {32, 64}) {
      const WorkListCapacity cap = work_list_capacity(b.rows, b.sequences, c, 0);
      const WorkList w = build_work_list(b.cu, b.sequences, b.tokens_per_row, b.rows, c, 0, cap);
      ASSERT_EQ(w.error, 0);
      ASSERT_EQ(static_cast<int>(w.chunk_index.size()), 2 * cap.max_chunks);
      ASSERT_EQ(static_cast<int>(w.cu.size()), b.sequences + 1);
      int expected = 0;
      for (int s = 0; s < b.sequences; ++s) {
        ASSERT_EQ(w.chunk_offset[s], expected);
        const int len = w.cu[s + 1] - w.cu[s];
        for (int j = 0; j * c < len; ++j, ++expected) {
          ASSERT_EQ(w.chunk_index[2 * expected], s);
          ASSERT_EQ(w.chunk_index[2 * expected + 1], j);
        }
      }
      ASSERT_EQ(w.chunks(), expected);
      // Padding entries {-1, j} follow, enough of them to reach the last row.
      const long long padding = b.rows - w.cu.back();
      const int pad_entries = cap.max_chunks - expected;
      ASSERT_GE(static_cast<long long>(pad_entries) * c, padding);
      for (int j = 0; j < pad_entries; ++j) {
        ASSERT_EQ(w.chunk_index[2 * (expected + j)], -1);
        ASSERT_EQ(w.chunk_index[2 * (expected + j) + 1], j);
      }
    }
  }
}

TEST(WorkList, PiecesAreTheCpSplitThenEmptyPieces) {
  for (const Batch& b : random_batches()) {
    const Problem p = problem_of(b);
    for (int l : {1, 4, 16}) {
      const int c = 64;
      const WorkListCapacity cap = work_list_capacity(b.rows, b.sequences, c, l);
      const WorkList w = build_work_list(b.cu, b.sequences, b.tokens_per_row, b.rows, c, l, cap);
      if (b.sequences == 0) continue;  // cp_split needs a sequence
      const CpSplit want = cp_split(p, l, c);
      ASSERT_EQ(w.pieces(), want.pieces());
      ASSERT_LE(w.pieces(), cap.max_pieces);
      ASSERT_EQ(static_cast<int>(w.piece_cu.size()), cap.max_pieces + 1);
      for (int q = 0; q <= want.pieces(); ++q) ASSERT_EQ(w.piece_cu[q], want.cu[q]) << q;
      for (int q = 0; q < want.pieces(); ++q) {
        ASSERT_EQ(w.piece_is_last[q], want.is_last[q]);
        ASSERT_EQ(w.ht_index[q], want.ht_index[q]);
      }
      EXPECT_EQ(w.raw_first_piece, want.raw_first_piece);
      for (int q = want.pieces(); q < cap.max_pieces; ++q) {  // empty, last, no ht
        ASSERT_EQ(w.piece_cu[q], w.cu.back());
        ASSERT_EQ(w.piece_is_last[q], 1);
        ASSERT_EQ(w.ht_index[q], -1);
      }
      // Each chunk entry of the piece list names its piece and its chunk inside the piece.
      for (int e = 0; e < w.chunks(); ++e) {
        const int q = w.piece_chunk_index[2 * e], j = w.piece_chunk_index[2 * e + 1];
        ASSERT_EQ(w.piece_chunk_offset[q] + j, e);
        ASSERT_LT(w.piece_cu[q] + j * c, w.piece_cu[q + 1]);
      }
    }
  }
}

TEST(WorkList, AnInvalidOffsetListBecomesEmptySequencesAtTheEndAndIsFlagged) {
  const long long rows = 100;
  for (const std::vector<int>& cu :
       std::vector<std::vector<int>>{{1, 50, 100}, {0, 60, 50}, {0, 50, 101}, {0, -5, 10}}) {
    const WorkListCapacity cap = work_list_capacity(rows, 2, 64, 4);
    const WorkList w = build_work_list(cu, 2, rows, rows, 64, 4, cap);
    EXPECT_EQ(w.error, 1);
    EXPECT_EQ(w.cu, (std::vector<int>{100, 100, 100}));
    EXPECT_EQ(w.chunks(), 0);
    for (int h : w.ht_index) EXPECT_EQ(h, -1);  // no final state is written either
  }
}

TEST(WorkList, CapacityRefusesListsBeyondInt32) {
  EXPECT_THROW(work_list_capacity(1LL << 40, 1, 32, 0), UserError);
  EXPECT_THROW(work_list_capacity(-1, 1, 32, 0), UserError);
  EXPECT_NO_THROW(work_list_capacity(1 << 24, 4096, 32, 4));
}

// call_status() reads the call's error word; each bit has its own sentence, none is silent.
TEST(CallError, EveryBitOfTheErrorWordIsNamed) {
  EXPECT_EQ(call_error_text(0), "");
  const std::string offsets = call_error_text(kCallErrorOffsets);
  EXPECT_NE(offsets.find("cu_seqlens is not a valid offset list"), std::string::npos) << offsets;
  const std::string keys = call_error_text(kCallErrorExpansiveKeys);
  EXPECT_NE(keys.find("beta * |k|^2 > 2"), std::string::npos) << keys;
  EXPECT_EQ(keys.find("cu_seqlens"), std::string::npos) << keys;
  const std::string both = call_error_text(kCallErrorOffsets | kCallErrorExpansiveKeys);
  EXPECT_NE(both.find("cu_seqlens"), std::string::npos);
  EXPECT_NE(both.find("beta * |k|^2"), std::string::npos);
  EXPECT_NE(call_error_text(8).find("unknown"), std::string::npos);
}

}  // namespace
}  // namespace qla::gdn
