// CP reference: piece length rule, split, warm-up counts, transitions, corrected
// states, and the truncation error bound of the CP forward against the exact recurrence.
#include "qla/ref/cp_reference.hpp"

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>

#include "qla/error.hpp"
#include "qla/ref/gdn_reference.hpp"
#include "ref_test_inputs.hpp"

namespace qla::ref {
namespace {

using testing::fixed_problem;
using testing::InputSpec;
using testing::random_inputs;
using testing::relative_error;
using testing::varlen_problem;

// FlashQLA's piece length rule evaluated for 132 SMs (H200), chunk 64.
TEST(CpPieceLength, MatchesTheSpecTable) {
  EXPECT_EQ(cp_piece_chunks(8, 8192 / 64, 132), 8);
  EXPECT_EQ(cp_piece_chunks(16, 8192 / 64, 132), 16);
  EXPECT_EQ(cp_piece_chunks(48, 8192 / 64, 132), 16);
  EXPECT_EQ(cp_piece_chunks(8, 32768 / 64, 132), 16);
  EXPECT_EQ(cp_piece_chunks(16, 32768 / 64, 132), 32);
  EXPECT_EQ(cp_piece_chunks(48, 32768 / 64, 132), 32);
  EXPECT_EQ(cp_piece_chunks(8, 4 * 8192 / 64, 132), 16);
  // Never below 4 chunks.
  EXPECT_EQ(cp_piece_chunks(1, 1, 132), 4);
  EXPECT_EQ(cp_piece_chunks(1, 0, 132), 4);
  EXPECT_THROW(cp_piece_chunks(8, 128, 0), UserError);
}

TEST(CpPieceLength, CountsChunksPerSequence) {
  const gdn::Problem p = varlen_problem({0, 0, 1, 65, 200}, 210, 1, 1, 8, 8, false);
  EXPECT_EQ(total_chunks(p, 64), 0 + 1 + 1 + 3);
  EXPECT_EQ(total_chunks(fixed_problem(3, 100, 1, 1, 8, 8, false), 64), 6);
}

TEST(CpSplit, CutsLongSequencesIntoWholePieces) {
  // Raw lengths 0, 100 (2 chunks), 517 (9 chunks), 256 (exactly 4 chunks); L = 4 chunks of 64.
  const gdn::Problem p = varlen_problem({0, 0, 100, 617, 873}, 880, 1, 1, 8, 8, false);
  const std::vector<CpPiece> pieces = cp_split(p, 4, 64);
  ASSERT_EQ(pieces.size(), 1u + 1u + 3u + 1u);
  auto expect_piece = [&](std::size_t j, std::int64_t begin, std::int64_t length, std::int64_t raw,
                          bool first, bool last) {
    SCOPED_TRACE(j);
    EXPECT_EQ(pieces[j].begin, begin);
    EXPECT_EQ(pieces[j].length, length);
    EXPECT_EQ(pieces[j].raw_seq, raw);
    EXPECT_EQ(pieces[j].first, first);
    EXPECT_EQ(pieces[j].last, last);
  };
  expect_piece(0, 0, 0, 0, true, true);
  expect_piece(1, 0, 100, 1, true, true);
  expect_piece(2, 100, 256, 2, true, false);
  expect_piece(3, 356, 256, 2, false, false);
  expect_piece(4, 612, 5, 2, false, true);
  expect_piece(5, 617, 256, 3, true, true);
  EXPECT_THROW(cp_split(p, 0, 64), UserError);
}

TEST(CpSplit, FixedLengthRowsAreRawSequences) {
  const std::vector<CpPiece> pieces = cp_split(fixed_problem(2, 300, 1, 1, 8, 8, false), 2, 64);
  ASSERT_EQ(pieces.size(), 6u);  // 300 tokens = 5 chunks -> 128 + 128 + 44 per row
  EXPECT_EQ(pieces[2].length, 44);
  EXPECT_EQ(pieces[3].begin, 300);
  EXPECT_TRUE(pieces[3].first);
}

// Warm-up counts from a gate whose chunk totals are set exactly.
TEST(CpWarmup, CountsFallbackAndLastPieces) {
  // One raw sequence of 3 pieces x 8 chunks (chunk 4 tokens), heads:
  //   0: chunk total -3  -> walking back: -3, -6, -9, -12 < -10 -> n = 4
  //   1: g == 0         -> never reached: n = 8, fallback
  //   2: chunk total -1.25, piece total -10 (not < -10): fallback with n = 8
  //   3: first chunk of each piece -11, others 0: reached only at the 8th chunk walked -> n = 8, no
  //   fallback
  const int c = 4;
  gdn::Problem p = fixed_problem(1, 3 * 8 * c, 1, 4, 4, 4, false);
  ForwardInputs in = random_inputs(p, 3);
  for (std::int64_t r = 0; r < p.tokens; ++r) {
    const bool chunk_start_of_piece = r % (8 * c) == 0;
    in.g[r * 4 + 0] = -3.0 / c;
    in.g[r * 4 + 1] = 0.0;
    in.g[r * 4 + 2] = -1.25 / c;
    in.g[r * 4 + 3] = chunk_start_of_piece ? -11.0 : 0.0;
  }
  CpOptions options;
  options.chunk = c;
  options.piece_chunks = 8;
  const CpPlan plan = cp_prepare(in, options);
  ASSERT_EQ(plan.pieces.size(), 3u);
  const std::vector<int> counts = {4, 8, 8, 8, 4, 8, 8, 8, 0, 0, 0, 0};
  const std::vector<std::uint8_t> fallback = {0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0};
  EXPECT_EQ(plan.warmup_chunks, counts);
  EXPECT_EQ(plan.fallback, fallback);
  // M is written only for fallback pairs; the first piece starts from h0 = 0.
  const std::size_t kk = 16;
  for (std::size_t t = 0; t < 12; ++t) {
    double norm = 0.0;
    for (std::size_t i = 0; i < kk; ++i) norm += std::abs(plan.transition[t * kk + i]);
    EXPECT_EQ(norm > 0.0, fallback[t] == 1) << "pair " << t;
  }
  for (std::size_t i = 0; i < 4 * 16; ++i) EXPECT_EQ(plan.corrected_h0[i], 0.0);
}

// S_end = M S_start + R exactly, checked against the recurrence run over the piece from a random
// state.
TEST(CpWarmup, TransitionIsExact) {
  const int c = 8;
  const gdn::Problem p = fixed_problem(1, 5 * c, 2, 4, 8, 6, false);
  InputSpec spec;
  spec.zero_gate_heads = {0, 1, 2, 3};
  spec.beta_hi = 2.0;
  const ForwardInputs in = random_inputs(p, 21, spec);
  CpOptions options;
  options.chunk = c;
  options.piece_chunks = 3;  // pieces of 24 and 16 tokens
  const CpPlan plan = cp_prepare(in, options);
  ASSERT_EQ(plan.pieces.size(), 2u);
  for (int h = 0; h < 4; ++h) ASSERT_EQ(plan.fallback[h], 1);

  // The piece as its own problem (rows 0..23) from a random initial state.
  gdn::Problem piece = fixed_problem(1, 24, 2, 4, 8, 6, true);
  ForwardInputs pin = random_inputs(piece, 22);
  std::copy_n(in.q.begin(), pin.q.size(), pin.q.begin());
  std::copy_n(in.k.begin(), pin.k.size(), pin.k.begin());
  std::copy_n(in.v.begin(), pin.v.size(), pin.v.begin());
  std::copy_n(in.g.begin(), pin.g.size(), pin.g.begin());
  std::copy_n(in.beta.begin(), pin.beta.size(), pin.beta.begin());
  const ForwardOutputs exact = forward_recurrent(pin);
  for (int h = 0; h < 4; ++h) {
    for (int i = 0; i < 8; ++i) {
      for (int j = 0; j < 6; ++j) {
        double predicted = plan.warmup_states[(h * 8 + i) * 6 + j];
        for (int l = 0; l < 8; ++l)
          predicted += plan.transition[(h * 8 + i) * 8 + l] * pin.h0[(h * 8 + l) * 6 + j];
        EXPECT_NEAR(predicted, exact.ht[(h * 8 + i) * 6 + j], 1e-12) << "head " << h;
      }
    }
  }
}

// Naive per-head recurrence (plain loops) that records every state norm and the state at every row.
struct HeadTrace {
  std::vector<std::vector<double>>
      states;  // states[r - begin] = S before token r; one extra at the end
};

HeadTrace trace_head(const ForwardInputs& in, std::int64_t begin, std::int64_t length,
                     std::int64_t seq, int h) {
  const gdn::Problem& p = in.problem;
  const int kd = p.k_dim, vd = p.v_dim, hq = h / p.group_size();
  std::vector<double> S(static_cast<std::size_t>(kd) * vd, 0.0);
  if (p.initial_state) std::copy_n(in.h0.begin() + (seq * p.h_v + h) * kd * vd, kd * vd, S.begin());
  HeadTrace trace;
  trace.states.push_back(S);
  std::vector<double> u(vd);
  for (std::int64_t r = begin; r < begin + length; ++r) {
    const double* k = in.k.data() + (r * p.h_qk + hq) * kd;
    const double decay = std::exp(in.g[r * p.h_v + h]);
    const double beta = in.beta[r * p.h_v + h];
    for (int j = 0; j < vd; ++j) {
      double pred = 0.0;
      for (int i = 0; i < kd; ++i) pred += decay * S[i * vd + j] * k[i];
      u[j] = beta * (in.v[(r * p.h_v + h) * vd + j] - pred);
    }
    for (int i = 0; i < kd; ++i)
      for (int j = 0; j < vd; ++j) S[i * vd + j] = decay * S[i * vd + j] + k[i] * u[j];
    trace.states.push_back(S);
  }
  return trace;
}

double distance(const double* a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < b.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

// Error bound: with unit-norm k and beta in [0, 2] every token map is a contraction, so the error
// of a corrected state is <= e^threshold ||S_w|| (S_w = true state at the start of the previous
// piece's warm-up window), or the previous piece's error when that piece fell back, and the output
// error of token t is <= scale ||q_t|| times the error of its piece's initial state. Fallback heads
// (g == 0) are exact.
void check_cp_bound(const gdn::Problem& p, double threshold, int piece_chunks, std::uint64_t seed) {
  InputSpec spec;
  spec.gate_strength = 0.05;  // about -3.2 per 64-token chunk: n = 3 or 4
  spec.beta_lo = 0.0;
  spec.beta_hi = 2.0;
  spec.zero_gate_heads = {0};
  const ForwardInputs in = random_inputs(p, seed, spec);
  CpOptions options;
  options.threshold = threshold;
  options.piece_chunks = piece_chunks;
  const CpPlan plan = cp_prepare(in, options);
  const ForwardOutputs exact = forward_recurrent(in);
  const ForwardOutputs cp = forward_cp(in, plan);
  const double bound = std::exp(threshold);
  const double scale = p.effective_scale();
  const int vd = p.v_dim;
  const std::size_t state_size = static_cast<std::size_t>(p.k_dim) * vd;

  double max_state_error = 0.0;
  for (std::int64_t n = 0; n < p.num_sequences(); ++n) {
    for (int h = 0; h < p.h_v; ++h) {
      const std::int64_t begin = p.seq_begin(n);
      const HeadTrace trace = trace_head(in, begin, p.seq_length(n), n, h);
      double prev_err = 0.0;
      const CpPiece* prev = nullptr;
      std::size_t prev_index = 0;
      for (std::size_t j = 0; j < plan.pieces.size(); ++j) {
        const CpPiece& piece = plan.pieces[j];
        if (piece.raw_seq != n) continue;
        const double err = distance(plan.corrected_h0.data() + (j * p.h_v + h) * state_size,
                                    trace.states[piece.begin - begin]);
        if (prev == nullptr) {
          EXPECT_LT(err, 1e-12) << "a first piece starts from the user's h0";
        } else if (plan.fallback[prev_index * p.h_v + h]) {
          // Exact chain: the error is the previous one carried through a contraction M.
          EXPECT_LE(err, prev_err * (1 + 1e-9) + 1e-12) << "fallback piece " << j << " head " << h;
        } else {
          // Dropped term Phi_w S_w with G_w = sum of g over the window < threshold (checked here
          // from g itself).
          const std::int64_t chunks = (prev->length + plan.chunk - 1) / plan.chunk;
          const std::int64_t window =
              prev->begin + (chunks - plan.warmup_chunks[prev_index * p.h_v + h]) * plan.chunk;
          double window_decay = 0.0;
          for (std::int64_t r = window; r < prev->begin + prev->length; ++r)
            window_decay += in.g[r * p.h_v + h];
          EXPECT_LT(window_decay, threshold) << "piece " << prev_index << " head " << h;
          EXPECT_LE(err,
                    bound * testing::frobenius(trace.states[window - begin]) * (1 + 1e-9) + 1e-12)
              << "piece " << j << " head " << h;
        }
        if (h == 0) {
          EXPECT_LT(err, 1e-10 * (1.0 + testing::frobenius(trace.states[piece.begin - begin])));
        }
        max_state_error = std::max(max_state_error, err);
        for (std::int64_t r = piece.begin; r < piece.begin + piece.length; ++r) {
          double q_norm = 0.0, o_err = 0.0;
          for (int i = 0; i < p.k_dim; ++i) {
            const double qi = in.q[(r * p.h_qk + h / p.group_size()) * p.k_dim + i];
            q_norm += qi * qi;
          }
          for (int i = 0; i < vd; ++i) {
            const std::size_t idx = (r * p.h_v + h) * vd + i;
            o_err += (cp.o[idx] - exact.o[idx]) * (cp.o[idx] - exact.o[idx]);
          }
          ASSERT_LE(std::sqrt(o_err), scale * std::sqrt(q_norm) * err * (1 + 1e-9) + 1e-12)
              << "row " << r;
        }
        prev = &piece;
        prev_index = j;
        prev_err = err;
      }
    }
  }
  // The approximation was exercised (not every head fell back) and stays within the headline bound.
  EXPECT_GT(max_state_error, 0.0);
  EXPECT_LE(relative_error(cp.o, exact.o), bound);
  EXPECT_LE(relative_error(cp.ht, exact.ht), bound);
  // Head 0 (g == 0) runs the exact M chain: its outputs match to round-off.
  std::vector<double> cp0, exact0;
  for (std::int64_t r = 0; r < p.total_tokens(); ++r)
    for (int i = 0; i < vd; ++i) {
      cp0.push_back(cp.o[(r * p.h_v) * vd + i]);
      exact0.push_back(exact.o[(r * p.h_v) * vd + i]);
    }
  EXPECT_LT(relative_error(cp0, exact0), 1e-10);
}

TEST(CpForward, WithinTheBoundAtDefaultThreshold) {
  check_cp_bound(fixed_problem(2, 600, 1, 3, 16, 16, true), -10.0, 4, 31);
}

TEST(CpForward, WithinTheBoundAtLooseThresholdVarlen) {
  // A loose threshold makes the dropped terms large enough to see; varlen with a short and an empty
  // sequence.
  check_cp_bound(varlen_problem({0, 700, 700, 730, 1200}, 1210, 2, 4, 16, 16, true), -4.0, 4, 32);
}

TEST(CpForward, AllFallbackIsExact) {
  const gdn::Problem p = varlen_problem({0, 300, 301, 600}, 600, 1, 2, 8, 8, true);
  InputSpec spec;
  spec.zero_gate_heads = {0, 1};
  const ForwardInputs in = random_inputs(p, 41, spec);
  CpOptions options;
  options.piece_chunks = 1;  // a piece per chunk: the longest chain of corrections
  const CpPlan plan = cp_prepare(in, options);
  EXPECT_GE(plan.pieces.size(), 10u);
  const ForwardOutputs exact = forward_recurrent(in);
  const ForwardOutputs cp = forward_cp(in, plan);
  EXPECT_LT(relative_error(cp.o, exact.o), 1e-10);
  EXPECT_LT(relative_error(cp.ht, exact.ht), 1e-10);
}

// One chunk's transition is e^{g_L} (I - K^T A_r diag(beta) K) with the gate-free
// A_r = (I + StrictLower(diag(beta) K K^T))^-1. A threshold that is never reached makes every head
// fall back, so the plan holds M for gated heads too.
TEST(CpWarmup, TransitionMatchesTheChunkFormula) {
  const int c = 8, kd = 6;
  const gdn::Problem p = fixed_problem(1, 3 * c, 1, 2, kd, 4, false);
  InputSpec spec;
  spec.beta_hi = 2.0;
  const ForwardInputs in = random_inputs(p, 51, spec);
  CpOptions options;
  options.chunk = c;
  options.piece_chunks = 1;
  options.threshold = -1e9;
  const CpPlan plan = cp_prepare(in, options);
  ASSERT_EQ(plan.pieces.size(), 3u);
  using Matrix = Eigen::MatrixXd;
  for (int j = 0; j < 2; ++j) {
    for (int h = 0; h < 2; ++h) {
      ASSERT_EQ(plan.fallback[j * 2 + h], 1);
      Matrix K(c, kd);
      Eigen::VectorXd beta(c);
      double g_total = 0.0;
      for (int s = 0; s < c; ++s) {
        const std::int64_t r = j * c + s;
        for (int i = 0; i < kd; ++i) K(s, i) = in.k[r * kd + i];
        beta(s) = in.beta[r * 2 + h];
        g_total += in.g[r * 2 + h];
      }
      Matrix L = (beta.asDiagonal() * K * K.transpose()).triangularView<Eigen::StrictlyLower>();
      const Matrix a_r = (Matrix::Identity(c, c) + L).inverse();
      const Matrix m = std::exp(g_total) *
                       (Matrix::Identity(kd, kd) - K.transpose() * a_r * beta.asDiagonal() * K);
      for (int a = 0; a < kd; ++a)
        for (int b = 0; b < kd; ++b)
          EXPECT_NEAR(plan.transition[((j * 2 + h) * kd + a) * kd + b], m(a, b), 1e-12);
    }
  }
  // With every head on the exact M chain the CP forward is exact even though the gate decays.
  const ForwardOutputs exact = forward_recurrent(in);
  const ForwardOutputs cp = forward_cp(in, plan);
  EXPECT_LT(relative_error(cp.o, exact.o), 1e-10);
  EXPECT_LT(relative_error(cp.ht, exact.ht), 1e-10);
}

TEST(CpForward, PlanOfAnotherProblemIsRejected) {
  const ForwardInputs a = random_inputs(fixed_problem(1, 300, 1, 1, 8, 8, false), 1);
  const ForwardInputs b = random_inputs(fixed_problem(1, 300, 1, 2, 8, 8, false), 1);
  EXPECT_THROW(forward_cp(b, cp_prepare(a)), UserError);
}

}  // namespace
}  // namespace qla::ref
