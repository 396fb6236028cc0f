// The float64 CPU reference of the GDN operator (arXiv:2412.06464), on Eigen. No CUDA.
//
// All tensors are flat row-major std::vector<double> in the token-major layouts of gdn::Problem:
//   q, k  [B*T, h_qk, K]      v, o  [B*T, h_v, V]      g, beta  [B*T, h_v]      states  [N, h_v, K,
//   V]
// (B*T rows = the flat token index; varlen problems use their cu_seqlens, padding rows produce o =
// 0). g is the raw per-token log-space decay (not cumulated). Work is spread over (sequence, value
// head) on threads.
#pragma once

#include <cstdint>
#include <vector>

#include "qla/gdn/problem.hpp"

namespace qla::ref {

/// Inputs of one forward call, already converted to float64.
struct ForwardInputs {
  gdn::Problem problem;
  std::vector<double> q, k, v, g, beta;
  std::vector<double>
      h0;  ///< [N, h_v, K, V]; empty when !problem.initial_state (zero initial state)
};

struct ForwardOutputs {
  std::vector<double> o;   ///< [B*T, h_v, V]
  std::vector<double> ht;  ///< [N, h_v, K, V]; final states (always computed)
};

/// Exact token recurrence, applying the l2norm flag and scale of the problem.
ForwardOutputs forward_recurrent(const ForwardInputs& in);

/// Chunked form with the gate-free A_r and the gated mask A_g, chunk size a parameter.
ForwardOutputs forward_chunked(const ForwardInputs& in, int chunk);

/// Gradients of a scalar loss L = <o, d_o> + <ht, dht>, in the input layouts.
struct Gradients {
  std::vector<double> dq, dk;  ///< [B*T, h_qk, K], summed over the value heads of each group
  std::vector<double> dv;      ///< [B*T, h_v, V]
  std::vector<double> dg;      ///< [B*T, h_v], per raw token
  std::vector<double> dbeta;   ///< [B*T, h_v]
  std::vector<double> dh0;     ///< [N, h_v, K, V]
};

/// Exact backward by token-level BPTT. `dht` may be empty (no gradient on the final state).
Gradients backward(const ForwardInputs& in, const std::vector<double>& d_o,
                   const std::vector<double>& dht);

}  // namespace qla::ref
