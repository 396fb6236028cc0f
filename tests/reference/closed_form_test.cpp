// The reference against values worked out by hand (tiny K, V and token counts).
#include <gtest/gtest.h>

#include <cmath>

#include "qla/error.hpp"
#include "qla/ref/gdn_reference.hpp"
#include "ref_test_inputs.hpp"

namespace qla::ref {
namespace {

using testing::fixed_problem;
using testing::varlen_problem;

constexpr double kTol = 1e-13;

// K = V = 1, two tokens, no h0, explicit scale 1.
//   t1: S~ = 0, u = 0.5 * 3 = 1.5, S1 = 2 * 1.5 = 3, o1 = 3 * 1 = 3
//   t2: S~ = 0.5 * 3 = 1.5, u = 0.5 * (4 - 1.5 * 1) = 1.25, S2 = 1.5 + 1 * 1.25 = 2.75, o2 = 2.75 *
//   2 = 5.5
ForwardInputs scalar_two_tokens() {
  ForwardInputs in;
  in.problem = fixed_problem(1, 2, 1, 1, 1, 1, false);
  in.problem.scale = 1.0;
  in.q = {1.0, 2.0};
  in.k = {2.0, 1.0};
  in.v = {3.0, 4.0};
  in.g = {0.0, std::log(0.5)};
  in.beta = {0.5, 0.5};
  return in;
}

TEST(ReferenceClosedForm, ScalarTwoTokensRecurrent) {
  const ForwardOutputs out = forward_recurrent(scalar_two_tokens());
  ASSERT_EQ(out.o.size(), 2u);
  EXPECT_NEAR(out.o[0], 3.0, kTol);
  EXPECT_NEAR(out.o[1], 5.5, kTol);
  ASSERT_EQ(out.ht.size(), 1u);
  EXPECT_NEAR(out.ht[0], 2.75, kTol);
}

TEST(ReferenceClosedForm, ScalarTwoTokensChunked) {
  for (int chunk : {1, 2, 4}) {
    const ForwardOutputs out = forward_chunked(scalar_two_tokens(), chunk);
    EXPECT_NEAR(out.o[0], 3.0, kTol) << "chunk " << chunk;
    EXPECT_NEAR(out.o[1], 5.5, kTol) << "chunk " << chunk;
    EXPECT_NEAR(out.ht[0], 2.75, kTol) << "chunk " << chunk;
  }
}

// K = V = 2 with h0 = [[1,0],[0,2]] and a gate, scale 1.
//   t1: g = 0, k = (1,0), v = (3,1), beta = 1: S~^T k = (1,0), u = (2,1), S1 = [[3,1],[0,2]], q =
//   (1,1): o = (3,3) t2: g = ln 0.5: S~ = [[1.5,0.5],[0,1]], k = (0,1), v = (1,1), beta = 0.5: S~^T
//   k = (0,1), u = (0.5,0),
//       S2 = [[1.5,0.5],[0.5,1]], q = (1,0): o = (1.5,0.5)
ForwardInputs matrix_two_tokens() {
  ForwardInputs in;
  in.problem = fixed_problem(1, 2, 1, 1, 2, 2, true);
  in.problem.scale = 1.0;
  in.q = {1.0, 1.0, 1.0, 0.0};
  in.k = {1.0, 0.0, 0.0, 1.0};
  in.v = {3.0, 1.0, 1.0, 1.0};
  in.g = {0.0, std::log(0.5)};
  in.beta = {1.0, 0.5};
  in.h0 = {1.0, 0.0, 0.0, 2.0};
  return in;
}

TEST(ReferenceClosedForm, MatrixTwoTokensWithInitialState) {
  const std::vector<double> o = {3.0, 3.0, 1.5, 0.5};
  const std::vector<double> ht = {1.5, 0.5, 0.5, 1.0};
  const ForwardInputs in = matrix_two_tokens();
  for (const ForwardOutputs& out :
       {forward_recurrent(in), forward_chunked(in, 2), forward_chunked(in, 1)}) {
    ASSERT_EQ(out.o.size(), o.size());
    for (std::size_t i = 0; i < o.size(); ++i)
      EXPECT_NEAR(out.o[i], o[i], kTol) << "o[" << i << "]";
    for (std::size_t i = 0; i < ht.size(); ++i)
      EXPECT_NEAR(out.ht[i], ht[i], kTol) << "ht[" << i << "]";
  }
}

// Default scale K^-1/2 and the l2norm flag: one token from zero state, K = 4, V = 1:
// S1 = beta k^ v, o = K^-1/2 beta v (k^ . q^) with x^ = x / sqrt(|x|^2 + 1e-6).
TEST(ReferenceClosedForm, DefaultScaleAndL2Norm) {
  ForwardInputs in;
  in.problem = fixed_problem(1, 1, 1, 1, 4, 1, false);
  in.problem.l2norm_qk = true;
  in.q = {3.0, 4.0, 0.0, 0.0};
  in.k = {0.0, 4.0, 3.0, 0.0};
  in.v = {2.0};
  in.g = {-0.7};
  in.beta = {0.25};
  const double nq = std::sqrt(25.0 + 1e-6);
  const double nk = std::sqrt(25.0 + 1e-6);
  const double dot = (4.0 * 4.0) / (nq * nk);
  const ForwardOutputs out = forward_recurrent(in);
  EXPECT_NEAR(out.o[0], 0.5 * 0.25 * 2.0 * dot, kTol);
  EXPECT_NEAR(out.ht[1], 0.25 * 2.0 * 4.0 / nk, kTol);
  EXPECT_NEAR(out.ht[2], 0.25 * 2.0 * 3.0 / nk, kTol);
  EXPECT_EQ(out.ht[0], 0.0);
  // Without the flag the raw vectors are used: o = 0.5 * 0.25 * 2 * 16.
  in.problem.l2norm_qk = false;
  EXPECT_NEAR(forward_recurrent(in).o[0], 0.5 * 0.25 * 2.0 * 16.0, kTol);
}

// GVA: value head h reads qk head h / (h_v / h_qk). Two qk heads, four value heads, one token, K =
// V = 1, scale 1: o[h] = beta v k[h/2] q[h/2].
TEST(ReferenceClosedForm, GroupedValueHeadsReadTheirQkHead) {
  ForwardInputs in;
  in.problem = fixed_problem(1, 1, 2, 4, 1, 1, false);
  in.problem.scale = 1.0;
  in.q = {2.0, 3.0};
  in.k = {5.0, 7.0};
  in.v = {1.0, 2.0, 3.0, 4.0};
  in.g = {0.0, 0.0, 0.0, 0.0};
  in.beta = {1.0, 1.0, 1.0, 1.0};
  const ForwardOutputs out = forward_recurrent(in);
  EXPECT_NEAR(out.o[0], 1.0 * 5.0 * 2.0, kTol);
  EXPECT_NEAR(out.o[1], 2.0 * 5.0 * 2.0, kTol);
  EXPECT_NEAR(out.o[2], 3.0 * 7.0 * 3.0, kTol);
  EXPECT_NEAR(out.o[3], 4.0 * 7.0 * 3.0, kTol);
}

// Varlen: an empty sequence keeps ht = h0, sequences are independent, padding rows give o = 0.
TEST(ReferenceClosedForm, VarlenEmptySequenceAndPadding) {
  ForwardInputs in;
  in.problem = varlen_problem({0, 1, 1, 2}, 4, 1, 1, 1, 1, true);
  in.problem.scale = 1.0;
  in.q = {1.0, 1.0, 9.0, 9.0};
  in.k = {1.0, 1.0, 9.0, 9.0};
  in.v = {2.0, 3.0, 9.0, 9.0};
  in.g = {0.0, std::log(0.5), 9.0, 9.0};
  in.beta = {1.0, 1.0, 9.0, 9.0};
  in.h0 = {10.0, 20.0, 30.0};
  // seq 0: S~ = 10, u = 2 - 10 = -8, S = 2; seq 1 empty: ht = 20; seq 2: S~ = 15, u = 3 - 15, S
  // = 3.
  for (const ForwardOutputs& out : {forward_recurrent(in), forward_chunked(in, 2)}) {
    EXPECT_NEAR(out.o[0], 2.0, kTol);
    EXPECT_NEAR(out.o[1], 3.0, kTol);
    EXPECT_EQ(out.o[2], 0.0);
    EXPECT_EQ(out.o[3], 0.0);
    EXPECT_NEAR(out.ht[0], 2.0, kTol);
    EXPECT_NEAR(out.ht[1], 20.0, kTol);
    EXPECT_NEAR(out.ht[2], 3.0, kTol);
  }
}

// Backward of one token, K = V = 1, from h0 = s:
//   S1 = e^g s (1 - b k^2) + b k v, o = c q S1, L = d o + D S1 = w S1 with w = c q d + D.
TEST(ReferenceClosedForm, ScalarBackward) {
  const double q = 0.7, k = 1.3, v = -0.4, g = -0.2, b = 0.6, s = 1.5, c = 0.9, d = 2.0, dd = -0.5;
  ForwardInputs in;
  in.problem = fixed_problem(1, 1, 1, 1, 1, 1, true);
  in.problem.scale = c;
  in.q = {q};
  in.k = {k};
  in.v = {v};
  in.g = {g};
  in.beta = {b};
  in.h0 = {s};
  const double e = std::exp(g);
  const double s1 = e * s * (1 - b * k * k) + b * k * v;
  const double w = c * q * d + dd;
  const Gradients grad = backward(in, {d}, {dd});
  EXPECT_NEAR(grad.dq[0], c * d * s1, kTol);
  EXPECT_NEAR(grad.dv[0], w * b * k, kTol);
  EXPECT_NEAR(grad.dbeta[0], w * k * (v - e * s * k), kTol);
  EXPECT_NEAR(grad.dg[0], w * e * s * (1 - b * k * k), kTol);
  EXPECT_NEAR(grad.dk[0], w * (-2 * b * k * e * s + b * v), kTol);
  EXPECT_NEAR(grad.dh0[0], w * e * (1 - b * k * k), kTol);
}

TEST(ReferenceClosedForm, WrongSizesAreUserErrorsNamingTheTensor) {
  ForwardInputs in = scalar_two_tokens();
  in.beta.pop_back();
  try {
    forward_recurrent(in);
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("beta"), std::string::npos) << e.what();
  }
  in = scalar_two_tokens();
  EXPECT_THROW(backward(in, {1.0}, {}), UserError);  // d_o too short
  EXPECT_THROW(forward_chunked(in, 0), UserError);
}

}  // namespace
}  // namespace qla::ref
