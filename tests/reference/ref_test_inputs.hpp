// Random inputs and error metrics for the reference tests. Self-contained on purpose
// (std::mt19937_64 and our own Box-Muller), so the reference is not tested through the project's
// input generators.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "qla/gdn/problem.hpp"
#include "qla/ref/gdn_reference.hpp"

namespace qla::ref::testing {

/// Uniform and standard normal draws from one seeded engine.
class Rng {
 public:
  static constexpr double kPi = 3.14159265358979323846;
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  /// Uniform in [0, 1), 53 random bits.
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal by Box-Muller (the second value of each pair is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0.0;
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * kPi * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

/// How to draw one problem's inputs.
struct InputSpec {
  double gate_strength =
      0.3;             ///< g = -gate_strength * softplus(0.5 z + 1) per token and head (0: no gate)
  bool unit_k = true;  ///< k (and q) scaled to unit norm (else raw randn, for the l2norm flag)
  double beta_lo = 0.0;  ///< beta uniform in [beta_lo, beta_hi)
  double beta_hi = 1.0;
  std::vector<int> zero_gate_heads;  ///< value heads whose g is exactly 0 (CP fallback)
};

inline double softplus(double x) { return x > 30.0 ? x : std::log1p(std::exp(x)); }

inline void fill_normal(Rng& rng, std::vector<double>& x, std::size_t n) {
  x.resize(n);
  for (double& e : x) e = rng.normal();
}

/// Unit-normalises consecutive vectors of `dim` values.
inline void normalise_rows(std::vector<double>& x, int dim) {
  for (std::size_t i = 0; i < x.size(); i += dim) {
    double sum = 0.0;
    for (int j = 0; j < dim; ++j) sum += x[i + j] * x[i + j];
    const double r = 1.0 / std::sqrt(sum);
    for (int j = 0; j < dim; ++j) x[i + j] *= r;
  }
}

inline ForwardInputs random_inputs(const gdn::Problem& p, std::uint64_t seed,
                                   const InputSpec& spec = {}) {
  Rng rng(seed);
  ForwardInputs in;
  in.problem = p;
  const auto rows = static_cast<std::size_t>(p.total_tokens());
  fill_normal(rng, in.q, rows * p.h_qk * p.k_dim);
  fill_normal(rng, in.k, rows * p.h_qk * p.k_dim);
  fill_normal(rng, in.v, rows * p.h_v * p.v_dim);
  if (spec.unit_k) {
    normalise_rows(in.q, p.k_dim);
    normalise_rows(in.k, p.k_dim);
  }
  in.g.resize(rows * p.h_v);
  in.beta.resize(rows * p.h_v);
  for (std::size_t i = 0; i < in.g.size(); ++i) {
    const int head = static_cast<int>(i % p.h_v);
    const bool zero = std::find(spec.zero_gate_heads.begin(), spec.zero_gate_heads.end(), head) !=
                      spec.zero_gate_heads.end();
    const double z = rng.normal();
    in.g[i] = zero ? 0.0 : -spec.gate_strength * softplus(0.5 * z + 1.0);
    in.beta[i] = rng.uniform(spec.beta_lo, spec.beta_hi);
  }
  if (p.initial_state)
    fill_normal(rng, in.h0,
                static_cast<std::size_t>(p.num_sequences()) * p.h_v * p.k_dim * p.v_dim);
  return in;
}

/// ||a - b||_2 / ||b||_2 over the whole tensors (b = the expected one); +inf when the sizes differ
/// (a missing or truncated output is never "close"). Two empty tensors are equal.
inline double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-300);
}

/// max |a - b|; +inf when the sizes differ.
inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

inline double frobenius(const std::vector<double>& a) {
  double s = 0.0;
  for (double x : a) s += x * x;
  return std::sqrt(s);
}

/// Problem helpers.
inline gdn::Problem fixed_problem(std::int64_t batch, std::int64_t tokens, int h_qk, int h_v,
                                  int k_dim, int v_dim, bool h0) {
  gdn::Problem p;
  p.batch = batch;
  p.tokens = tokens;
  p.h_qk = h_qk;
  p.h_v = h_v;
  p.k_dim = k_dim;
  p.v_dim = v_dim;
  p.initial_state = h0;
  return p;
}

inline gdn::Problem varlen_problem(std::vector<std::int64_t> cu_seqlens, std::int64_t tokens,
                                   int h_qk, int h_v, int k_dim, int v_dim, bool h0) {
  gdn::Problem p = fixed_problem(1, tokens, h_qk, h_v, k_dim, v_dim, h0);
  p.cu_seqlens = std::move(cu_seqlens);
  return p;
}

}  // namespace qla::ref::testing
