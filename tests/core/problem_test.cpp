#include "qla/gdn/problem.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "qla/error.hpp"

namespace qla::gdn {
namespace {

Problem varlen(std::vector<std::int64_t> cu, std::int64_t t) {
  Problem p;
  p.tokens = t;
  p.cu_seqlens = std::move(cu);
  p.h_qk = 2;
  p.h_v = 8;
  return p;
}

TEST(Problem, FixedLengthSequences) {
  Problem p;
  p.batch = 3;
  p.tokens = 100;
  p.h_qk = 4;
  p.h_v = 16;
  p.validate();
  EXPECT_EQ(p.num_sequences(), 3);
  EXPECT_EQ(p.seq_begin(2), 200);
  EXPECT_EQ(p.seq_length(1), 100);
  EXPECT_EQ(p.group_size(), 4);
  EXPECT_EQ(p.label(), "b3.t100.h4x16.k128v128.bf16");
  EXPECT_DOUBLE_EQ(p.effective_scale(), 1.0 / std::sqrt(128.0));
}

TEST(Problem, VarlenSequencesAndPadding) {
  Problem p = varlen({0, 5, 5, 17}, 20);
  p.validate();
  EXPECT_EQ(p.num_sequences(), 3);
  EXPECT_EQ(p.seq_length(1), 0);
  EXPECT_EQ(p.seq_begin(2), 5);
  EXPECT_EQ(p.valid_tokens(), 17);
  EXPECT_EQ(p.label(), "varlen3.t20.h2x8.k128v128.bf16");
}

TEST(Problem, RejectsBadShapes) {
  Problem p;
  p.tokens = 8;
  p.h_qk = 3;
  p.h_v = 8;
  EXPECT_THROW(p.validate(), UserError);
  EXPECT_THROW(varlen({1, 5}, 8).validate(), UserError);     // not starting at 0
  EXPECT_THROW(varlen({0, 5, 4}, 8).validate(), UserError);  // decreasing
  EXPECT_THROW(varlen({0, 9}, 8).validate(), UserError);     // past T
  Problem b = varlen({0, 8}, 8);
  b.batch = 2;
  EXPECT_THROW(b.validate(), UserError);  // varlen needs B == 1
}

TEST(Problem, SizesThatWouldWrapOrCannotExistAreRefused) {
  Problem p;
  p.batch = 65536;
  p.tokens = std::int64_t{1} << 48;  // batch x tokens = 2^64: wraps to 0 in 64-bit arithmetic
  p.h_qk = p.h_v = 1;
  p.k_dim = p.v_dim = 1;
  EXPECT_THROW(p.validate(), UserError);
  Problem wide;
  wide.tokens = 1 << 20;
  wide.h_qk = wide.h_v = 1 << 20;  // 2^40 rows x heads, x 128: past 2^40 elements
  EXPECT_THROW(wide.validate(), UserError);
  EXPECT_EQ(checked_elements({1 << 20, 1 << 20}, "x"), std::int64_t{1} << 40);
  EXPECT_THROW(checked_elements({1 << 20, 1 << 20, 2}, "x"), UserError);
  EXPECT_THROW(checked_elements({-1, 2}, "x"), UserError);
  EXPECT_EQ(checked_elements({0, std::int64_t{1} << 62}, "x"), 0);
}

TEST(Problem, ErrorNamesTheProblem) {
  try {
    varlen({0, 5, 4}, 8).validate();
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("non-decreasing"), std::string::npos) << e.what();
  }
}

TEST(Problem, ClassLabelIgnoresTheSequencesAndNamesEverythingElse) {
  Problem a;
  a.tokens = 4096;
  a.h_qk = 2;
  a.h_v = 8;
  Problem b = a;
  b.tokens = 100;
  b.cu_seqlens = {0, 40, 100};
  EXPECT_EQ(a.class_label(), b.class_label());
  EXPECT_NE(a.key(), b.key());
  for (auto change : std::vector<void (*)(Problem&)>{
           [](Problem& p) { p.h_v = 16; }, [](Problem& p) { p.k_dim = 64; },
           [](Problem& p) { p.qkv_dtype = DType::kF16; },
           [](Problem& p) { p.gate_dtype = DType::kBF16; },
           [](Problem& p) { p.initial_state = true; }, [](Problem& p) { p.final_state = false; },
           [](Problem& p) { p.l2norm_qk = true; }, [](Problem& p) { p.scale = 0.5; }}) {
    Problem c = a;
    change(c);
    EXPECT_NE(c.class_label(), a.class_label()) << c.class_label();
  }
}

}  // namespace
}  // namespace qla::gdn
