// The exact backward against central finite differences of L = <o, d_o> + <ht, dht>, for every
// gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "qla/ref/gdn_reference.hpp"
#include "ref_test_inputs.hpp"

namespace qla::ref {
namespace {

using testing::fixed_problem;
using testing::InputSpec;
using testing::random_inputs;
using testing::Rng;
using testing::varlen_problem;

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double loss(const ForwardInputs& in, const std::vector<double>& d_o,
            const std::vector<double>& dht) {
  const ForwardOutputs out = forward_recurrent(in);
  return dot(out.o, d_o) + (dht.empty() ? 0.0 : dot(out.ht, dht));
}

// Compares grad[i] with (L(x_i + eps) - L(x_i - eps)) / 2 eps for every element of one input
// tensor.
void check_gradient(ForwardInputs in, std::vector<double> ForwardInputs::*tensor,
                    const std::vector<double>& grad, const std::vector<double>& d_o,
                    const std::vector<double>& dht, const char* name) {
  SCOPED_TRACE(name);
  std::vector<double>& x = in.*tensor;
  ASSERT_EQ(grad.size(), x.size());
  constexpr double kEps = 1e-6;
  double max_grad = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kEps;
    const double up = loss(in, d_o, dht);
    x[i] = saved - kEps;
    const double down = loss(in, d_o, dht);
    x[i] = saved;
    const double fd = (up - down) / (2 * kEps);
    max_grad = std::max(max_grad, std::abs(fd));
    ASSERT_NEAR(grad[i], fd, 1e-7 * (1.0 + std::abs(fd))) << name << "[" << i << "]";
  }
  EXPECT_GT(max_grad, 1e-3) << name
                            << ": all finite differences vanish, the check would be vacuous";
}

struct FdCase {
  std::string name;
  gdn::Problem problem;
  InputSpec spec;
  bool with_dht = true;
};

void run_fd_case(const FdCase& c, std::uint64_t seed) {
  SCOPED_TRACE(c.name);
  const ForwardInputs in = random_inputs(c.problem, seed, c.spec);
  Rng rng(seed + 99);
  const gdn::Problem& p = c.problem;
  std::vector<double> d_o(static_cast<std::size_t>(p.total_tokens()) * p.h_v * p.v_dim);
  for (double& x : d_o) x = rng.normal();
  std::vector<double> dht;
  if (c.with_dht) {
    dht.resize(static_cast<std::size_t>(p.num_sequences()) * p.h_v * p.k_dim * p.v_dim);
    for (double& x : dht) x = rng.normal();
  }
  const Gradients grad = backward(in, d_o, dht);
  check_gradient(in, &ForwardInputs::q, grad.dq, d_o, dht, "dq");
  check_gradient(in, &ForwardInputs::k, grad.dk, d_o, dht, "dk");
  check_gradient(in, &ForwardInputs::v, grad.dv, d_o, dht, "dv");
  check_gradient(in, &ForwardInputs::g, grad.dg, d_o, dht, "dg");
  check_gradient(in, &ForwardInputs::beta, grad.dbeta, d_o, dht, "dbeta");
  if (p.initial_state) {
    check_gradient(in, &ForwardInputs::h0, grad.dh0, d_o, dht, "dh0");
  } else {
    ASSERT_EQ(grad.dh0.size(),
              static_cast<std::size_t>(p.num_sequences()) * p.h_v * p.k_dim * p.v_dim);
  }
}

TEST(ReferenceBackwardFd, SingleHead) {
  run_fd_case({"single", fixed_problem(1, 6, 1, 1, 3, 2, true), {}}, 1);
}

TEST(ReferenceBackwardFd, NoInitialStateNoDht) {
  run_fd_case({"no_h0_no_dht", fixed_problem(1, 5, 1, 1, 3, 3, false), {}, false}, 2);
}

TEST(ReferenceBackwardFd, GroupedValueHeads) {
  run_fd_case({"gva2", fixed_problem(1, 5, 2, 4, 3, 2, true), {}}, 3);
  run_fd_case({"gva4", fixed_problem(1, 4, 1, 4, 2, 3, true), {}}, 4);
}

TEST(ReferenceBackwardFd, FixedBatch) {
  run_fd_case({"b3", fixed_problem(3, 4, 1, 2, 2, 2, true), {}}, 5);
}

TEST(ReferenceBackwardFd, VarlenWithEmptyAndOneTokenSequencesAndPadding) {
  run_fd_case({"varlen", varlen_problem({0, 3, 3, 4, 8}, 10, 1, 2, 3, 2, true), {}}, 6);
}

TEST(ReferenceBackwardFd, L2Norm) {
  InputSpec raw;
  raw.unit_k = false;
  gdn::Problem p = fixed_problem(1, 5, 1, 2, 3, 2, true);
  p.l2norm_qk = true;
  run_fd_case({"l2norm", p, raw}, 7);
  gdn::Problem pv = varlen_problem({0, 2, 2, 5}, 6, 2, 4, 3, 2, true);
  pv.l2norm_qk = true;
  run_fd_case({"l2norm_varlen_gva", pv, raw}, 8);
}

// Longer than one 64-token checkpoint interval: the recompute across checkpoint boundaries must be
// exact.
TEST(ReferenceBackwardFd, AcrossCheckpointBoundaries) {
  InputSpec spec;
  spec.gate_strength = 0.02;  // keep the early tokens visible in the final state
  run_fd_case({"t150", fixed_problem(1, 150, 1, 1, 2, 2, true), spec}, 9);
}

}  // namespace
}  // namespace qla::ref
