// The dispatcher every header written by `qla header` is built on: the row and choice types and the
// lookup's search over one table (qla::tuner::Lookup::find, repeated here so that a deployment
// needs no tuner library; tests/header checks that the two agree). The generated header holds only
// the tables and select(). Plain C++17: a deployment build compiles it with no CUDA, SQLite, CUPTI
// or NVRTC.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qla/dtype.hpp"
#include "qla/gdn/problem.hpp"

namespace qla_tuned {

/// Where a choice came from, in the order select() tries them (qla::tuner::Provenance, plus the
/// default).
enum class Source : std::uint8_t { kExact, kNearest, kSameArch, kDefault };

/// "exact", "nearest", "same_arch", "default".
inline const char* source_name(Source s) {
  switch (s) {
    case Source::kExact:
      return "exact";
    case Source::kNearest:
      return "nearest";
    case Source::kSameArch:
      return "same_arch";
    case Source::kDefault:
      return "default";
  }
  return "?";
}

/// A tuned problem as the dispatcher compares it.
struct Bucket {
  int h_qk;                ///< query/key heads
  int h_v;                 ///< value heads
  int k_dim;               ///< K
  int v_dim;               ///< V
  qla::DType dtype;        ///< q/k/v dtype; (h_qk, h_v, k_dim, v_dim, dtype) is the lookup class
  std::int64_t tokens;     ///< valid tokens (varlen padding excluded)
  std::int64_t sequences;  ///< sequences
  std::int64_t longest;    ///< tokens of the longest sequence
  const char* key;         ///< the store's problem key (qla::gdn::Problem::key)
};

/// One tuned row: the problem it was measured on, the config values in axis order, times in
/// microseconds.
template <int N>
struct Row {
  Bucket bucket;
  bool same_arch;  ///< measured on another device of the same compute capability (fallback tier)
  int values[N];   ///< config values (not indices), axis order
  double measured_us;  ///< the config's median time of the op on `bucket`
  double default_us;   ///< the default config's median there; 0 when the store has none
};

/// The dispatcher's answer for one kernel.
template <int N>
struct Choice {
  std::array<int, N> values{};  ///< config values, axis order
  Source source = Source::kDefault;
  double distance = 0;     ///< log2-space distance to the measured problem; 0 for exact and default
  double measured_us = 0;  ///< measured time of the row used; 0 for the default
  const char* problem = "";  ///< problem key of the row used; "" for the default
  /// The values as a qla::Point (std::vector<int>), e.g. for qla::gdn::PlanOptions::configs.
  std::vector<int> point() const { return std::vector<int>(values.begin(), values.end()); }
};

/// What select() looks up: the problem's class, size and key.
struct Query {
  int h_qk = 1;
  int h_v = 1;
  int k_dim = 128;
  int v_dim = 128;
  qla::DType dtype = qla::DType::kBF16;
  std::int64_t tokens = 0;     ///< valid tokens
  std::int64_t sequences = 1;  ///< sequences
  std::int64_t longest = 0;    ///< tokens of the longest sequence; 0: tokens / sequences (even)
  std::string key;             ///< problem key; exact matches need it, "" matches no row exactly
};

/// The store's problem key (qla::gdn::Problem::key, which the tuner files its trials under).
inline std::string problem_key(const qla::gdn::Problem& p) { return p.key(); }

/// The query of a problem.
inline Query query_of(const qla::gdn::Problem& p) {
  Query q;
  q.h_qk = p.h_qk;
  q.h_v = p.h_v;
  q.k_dim = p.k_dim;
  q.v_dim = p.v_dim;
  q.dtype = p.qkv_dtype;
  q.tokens = p.valid_tokens();
  q.sequences = p.num_sequences();
  q.longest = p.longest_sequence();
  q.key = problem_key(p);
  return q;
}

namespace detail {

inline double log2_of(std::int64_t x) { return std::log2(static_cast<double>(x < 1 ? 1 : x)); }

/// log2 of the fill, tokens / (sequences x longest): 0 for sequences of equal length.
inline double log2_fill(std::int64_t tokens, std::int64_t sequences, std::int64_t longest) {
  if (longest < 1) return 0.0;  // not given: taken as even
  return log2_of(tokens) - log2_of(sequences) - log2_of(longest);
}

/// The lookup's distance between two problems of one class by their valid tokens, sequences and
/// longest sequence (0: even): sqrt(Δlog2(tokens)² + Δlog2(sequences)² + Δlog2(fill)²). The
/// tuner's lookup (qla::tuner::problem_distance) calls it too.
inline double size_distance(std::int64_t tokens_a, std::int64_t sequences_a, std::int64_t longest_a,
                            std::int64_t tokens_b, std::int64_t sequences_b,
                            std::int64_t longest_b) {
  const double dt = log2_of(tokens_a) - log2_of(tokens_b);
  const double dn = log2_of(sequences_a) - log2_of(sequences_b);
  const double df =
      log2_fill(tokens_a, sequences_a, longest_a) - log2_fill(tokens_b, sequences_b, longest_b);
  return std::sqrt(dt * dt + dn * dn + df * df);
}

inline double distance(const Bucket& b, const Query& q) {
  return size_distance(b.tokens, b.sequences, b.longest, q.tokens, q.sequences, q.longest);
}

inline bool same_class(const Bucket& b, const Query& q) {
  return b.h_qk == q.h_qk && b.h_v == q.h_v && b.k_dim == q.k_dim && b.v_dim == q.v_dim &&
         b.dtype == q.dtype;
}

template <int N>
Choice<N> default_choice(const int (&values)[N]) {
  Choice<N> c;
  for (int i = 0; i < N; ++i) c.values[static_cast<std::size_t>(i)] = values[i];
  return c;
}

/// qla::tuner::Lookup::find over one capability's rows: exact, else nearest of the class on the
/// primary device, then the same on the other devices of the capability, else `fallback`. Ties keep
/// the earlier row (rows are in the store's order: device digest, then problem key), except that an
/// exact key beats a different problem at the same distance.
template <int N, std::size_t R>
Choice<N> find(const std::array<Row<N>, R>& rows, const Query& q, const int (&fallback)[N]) {
  const Row<N>* best[2] = {nullptr, nullptr};
  double best_d[2] = {HUGE_VAL, HUGE_VAL};
  for (const Row<N>& r : rows) {
    const int tier = r.same_arch ? 1 : 0;
    if (!same_class(r.bucket, q)) continue;
    const bool exact = q.key == r.bucket.key;
    const double d = exact ? 0.0 : distance(r.bucket, q);
    const bool best_exact = best[tier] != nullptr && q.key == best[tier]->bucket.key;
    if (d < best_d[tier] || (d == best_d[tier] && exact && !best_exact)) {
      best[tier] = &r;
      best_d[tier] = d;
    }
  }
  for (int tier = 0; tier < 2; ++tier) {
    if (best[tier] == nullptr) continue;
    const Row<N>& r = *best[tier];
    const bool exact = q.key == r.bucket.key;
    Choice<N> c = default_choice(r.values);
    c.source = tier == 1 ? Source::kSameArch : (exact ? Source::kExact : Source::kNearest);
    c.distance = exact ? 0.0 : best_d[tier];
    c.measured_us = r.measured_us;
    c.problem = r.bucket.key;
    return c;
  }
  return default_choice(fallback);
}

}  // namespace detail

}  // namespace qla_tuned
