// The chunked form against the token recurrence on random inputs: two
// independent implementations of the same operator must agree to float64 round-off.
#include <gtest/gtest.h>

#include <string>

#include "qla/ref/gdn_reference.hpp"
#include "ref_test_inputs.hpp"

namespace qla::ref {
namespace {

using testing::fixed_problem;
using testing::InputSpec;
using testing::random_inputs;
using testing::relative_error;
using testing::varlen_problem;

struct Case {
  std::string name;
  gdn::Problem problem;
  InputSpec spec;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  c.push_back({"b1_t100_gva1", fixed_problem(1, 100, 1, 1, 16, 16, false), {}});
  c.push_back({"b1_t77_gva2_h0", fixed_problem(1, 77, 2, 4, 16, 8, true), {}});
  c.push_back({"b1_t50_gva4", fixed_problem(1, 50, 1, 4, 8, 16, false), {}});
  c.push_back({"b3_t37_h0", fixed_problem(3, 37, 2, 2, 16, 16, true), {}});
  // 1-token and empty sequences, a sequence of exactly one chunk, and 10 padding rows after
  // cu_seqlens[N].
  c.push_back({"varlen_padding_h0",
               varlen_problem({0, 1, 1, 40, 41, 105, 130}, 140, 2, 4, 16, 16, true),
               {}});
  c.push_back({"varlen_no_h0", varlen_problem({0, 0, 33, 34, 98}, 98, 1, 2, 8, 8, false), {}});
  c.push_back({"k64_v64", fixed_problem(1, 70, 1, 2, 64, 64, true), {}});
  c.push_back({"k128_v128", fixed_problem(1, 40, 1, 1, 128, 128, true), {}});
  c.push_back({"k256_v256", fixed_problem(1, 20, 1, 1, 256, 256, true), {}});
  InputSpec raw;
  raw.unit_k = false;  // the l2norm flag makes raw randn vectors unit-norm inside the op
  gdn::Problem l2 = fixed_problem(1, 90, 2, 4, 32, 16, true);
  l2.l2norm_qk = true;
  c.push_back({"l2norm_h0", l2, raw});
  gdn::Problem l2_varlen = varlen_problem({0, 5, 70, 71}, 75, 1, 1, 32, 32, false);
  l2_varlen.l2norm_qk = true;
  c.push_back({"l2norm_varlen", l2_varlen, raw});
  InputSpec strong;
  strong.gate_strength = 8.0;  // e^{g_s - g_t} spans many decades inside a chunk
  strong.beta_hi = 2.0;
  c.push_back({"strong_gate_beta2", fixed_problem(1, 100, 1, 2, 16, 16, true), strong});
  InputSpec no_gate;
  no_gate.gate_strength = 0.0;
  c.push_back({"no_gate", fixed_problem(1, 100, 1, 1, 16, 16, true), no_gate});
  return c;
}

class ChunkedVsRecurrent : public ::testing::TestWithParam<int> {};

TEST_P(ChunkedVsRecurrent, AgreeToRoundOff) {
  const int chunk = GetParam();
  std::uint64_t seed = 1000;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name + " chunk " + std::to_string(chunk));
    const ForwardInputs in = random_inputs(c.problem, ++seed, c.spec);
    const ForwardOutputs expected = forward_recurrent(in);
    const ForwardOutputs actual = forward_chunked(in, chunk);
    ASSERT_EQ(actual.o.size(), expected.o.size());
    ASSERT_EQ(actual.ht.size(), expected.ht.size());
    EXPECT_GT(testing::frobenius(expected.o), 0.0);
    EXPECT_LT(relative_error(actual.o, expected.o), 1e-10);
    EXPECT_LT(relative_error(actual.ht, expected.ht), 1e-10);
    // Padding rows after cu_seqlens[N] are exactly zero in both.
    const gdn::Problem& p = c.problem;
    for (std::int64_t r = p.valid_tokens(); r < p.total_tokens(); ++r) {
      for (int i = 0; i < p.h_v * p.v_dim; ++i) {
        ASSERT_EQ(expected.o[r * p.h_v * p.v_dim + i], 0.0);
        ASSERT_EQ(actual.o[r * p.h_v * p.v_dim + i], 0.0);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Chunks, ChunkedVsRecurrent, ::testing::Values(16, 32, 64),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return "c" + std::to_string(param_info.param);
                         });

// The empty sequence of a varlen problem keeps its h0 as final state, and sequences do not leak
// into each other: changing the tokens of one sequence changes no other sequence's outputs.
TEST(ReferenceVarlen, SequencesAreIndependent) {
  const gdn::Problem p = varlen_problem({0, 10, 10, 30}, 32, 1, 2, 8, 8, true);
  ForwardInputs in = random_inputs(p, 7);
  const ForwardOutputs base = forward_recurrent(in);
  const std::size_t state = 2 * 8 * 8;
  for (std::size_t i = 0; i < state; ++i) EXPECT_EQ(base.ht[state + i], in.h0[state + i]);
  for (std::size_t i = 10 * 2 * 8; i < 30 * 2 * 8; ++i) in.v[i] += 1.0;  // perturb sequence 2 only
  const ForwardOutputs changed = forward_recurrent(in);
  for (std::size_t i = 0; i < 10 * 2 * 8; ++i) EXPECT_EQ(changed.o[i], base.o[i]);
  for (std::size_t i = 0; i < 2 * state; ++i) EXPECT_EQ(changed.ht[i], base.ht[i]);
  EXPECT_GT(relative_error(changed.o, base.o), 1e-3);
}

// Fixed-length B = 3 equals three separate B = 1 problems.
TEST(ReferenceFixed, BatchRowsAreSeparateSequences) {
  const gdn::Problem p = fixed_problem(3, 21, 1, 2, 8, 8, true);
  const ForwardInputs in = random_inputs(p, 11);
  const ForwardOutputs all = forward_recurrent(in);
  for (int b = 0; b < 3; ++b) {
    ForwardInputs one;
    one.problem = fixed_problem(1, 21, 1, 2, 8, 8, true);
    auto slice = [&](const std::vector<double>& x, std::size_t per_seq) {
      return std::vector<double>(x.begin() + b * per_seq, x.begin() + (b + 1) * per_seq);
    };
    one.q = slice(in.q, 21 * 8);
    one.k = slice(in.k, 21 * 8);
    one.v = slice(in.v, 21 * 2 * 8);
    one.g = slice(in.g, 21 * 2);
    one.beta = slice(in.beta, 21 * 2);
    one.h0 = slice(in.h0, 2 * 64);
    const ForwardOutputs out = forward_recurrent(one);
    EXPECT_EQ(out.o, slice(all.o, 21 * 2 * 8));
    EXPECT_EQ(out.ht, slice(all.ht, 2 * 64));
  }
}

// Multi-threading must not change a single bit.
TEST(ReferenceDeterminism, RepeatedRunsAreBitwiseEqual) {
  const gdn::Problem p = varlen_problem({0, 30, 31, 90}, 96, 2, 8, 16, 16, true);
  const ForwardInputs in = random_inputs(p, 5);
  const ForwardOutputs a = forward_recurrent(in);
  const ForwardOutputs b = forward_recurrent(in);
  EXPECT_EQ(a.o, b.o);
  EXPECT_EQ(a.ht, b.ht);
  const Gradients ga = backward(in, a.o, a.ht);
  const Gradients gb = backward(in, a.o, a.ht);
  EXPECT_EQ(ga.dq, gb.dq);
  EXPECT_EQ(ga.dg, gb.dg);
  EXPECT_EQ(ga.dh0, gb.dh0);
}

}  // namespace
}  // namespace qla::ref

namespace qla::ref {
namespace {

// The comparison every reference test leans on: a missing or truncated output is never close.
TEST(ReferenceTestHelpers, SizesMustMatch) {
  EXPECT_EQ(testing::relative_error({1.0, 2.0}, {1.0, 2.0}), 0.0);
  EXPECT_TRUE(std::isinf(testing::relative_error({}, {1.0, 2.0})));
  EXPECT_TRUE(std::isinf(testing::relative_error({1.0}, {1.0, 2.0})));
  EXPECT_TRUE(std::isinf(testing::max_abs_diff({1.0, 2.0, 3.0}, {1.0, 2.0})));
  EXPECT_EQ(testing::relative_error({}, {}), 0.0);
}

}  // namespace
}  // namespace qla::ref
