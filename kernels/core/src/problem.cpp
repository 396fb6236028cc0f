#include "qla/gdn/problem.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "qla/error.hpp"

namespace qla::gdn {

std::int64_t Problem::num_sequences() const {
  return is_varlen() ? static_cast<std::int64_t>(cu_seqlens.size()) - 1 : batch;
}

std::int64_t Problem::seq_begin(std::int64_t n) const {
  return is_varlen() ? cu_seqlens[n] : n * tokens;
}

std::int64_t Problem::seq_length(std::int64_t n) const {
  return is_varlen() ? cu_seqlens[n + 1] - cu_seqlens[n] : tokens;
}

std::int64_t Problem::valid_tokens() const {
  return is_varlen() ? cu_seqlens.back() : batch * tokens;
}

std::int64_t Problem::longest_sequence() const {
  std::int64_t longest = 0;
  for (std::int64_t n = 0; n < num_sequences(); ++n) longest = std::max(longest, seq_length(n));
  return longest;
}

double Problem::effective_scale() const { return scale ? *scale : 1.0 / std::sqrt(double(k_dim)); }

void Problem::validate() const {
  QLA_REQUIRE(batch >= 1, "batch must be >= 1, got " << batch);
  QLA_REQUIRE(tokens >= 0, "tokens must be >= 0, got " << tokens);
  QLA_REQUIRE(h_qk >= 1 && h_v >= 1,
              "head counts must be >= 1, got h_qk=" << h_qk << " h_v=" << h_v);
  QLA_REQUIRE(h_v % h_qk == 0, "h_v (" << h_v << ") must be a multiple of h_qk (" << h_qk
                                       << ") for grouped value attention");
  QLA_REQUIRE(k_dim >= 1 && v_dim >= 1,
              "head dims must be >= 1, got K=" << k_dim << " V=" << v_dim);
  QLA_REQUIRE(qkv_dtype == DType::kBF16 || qkv_dtype == DType::kF16 || qkv_dtype == DType::kF32,
              "q/k/v dtype must be bf16, f16 or f32, got " << dtype_name(qkv_dtype));
  QLA_REQUIRE(is_floating(gate_dtype) && is_floating(beta_dtype),
              "g and beta must be floating point");
  if (is_varlen()) {
    QLA_REQUIRE(batch == 1, "cu_seqlens: varlen needs batch == 1 (packed), got batch " << batch);
    QLA_REQUIRE(cu_seqlens.size() >= 2,
                "cu_seqlens: needs at least 2 entries, got " << cu_seqlens.size());
    QLA_REQUIRE(cu_seqlens.front() == 0,
                "cu_seqlens: must start at 0, starts at " << cu_seqlens.front());
    for (std::size_t i = 1; i < cu_seqlens.size(); ++i) {
      QLA_REQUIRE(cu_seqlens[i] >= cu_seqlens[i - 1],
                  "cu_seqlens: must be non-decreasing, but entry " << i << " (" << cu_seqlens[i]
                                                                   << ") < entry " << i - 1 << " ("
                                                                   << cu_seqlens[i - 1] << ")");
    }
    QLA_REQUIRE(cu_seqlens.back() <= tokens, "cu_seqlens: last entry "
                                                 << cu_seqlens.back() << " exceeds the token count "
                                                 << tokens);
  }
  // Every tensor's element count, computed without overflow and bounded: sizes that wrap or could
  // never be allocated are user errors here, before anything is allocated.
  const std::int64_t rows = checked_elements({batch, tokens}, "batch x tokens");
  checked_elements({rows, h_qk, k_dim}, "q and k");
  checked_elements({rows, h_v, v_dim}, "v and o");
  checked_elements({num_sequences(), h_v, k_dim, v_dim}, "the states");
}

std::int64_t checked_elements(std::initializer_list<std::int64_t> extents, const char* what) {
  std::int64_t n = 1;
  for (const std::int64_t e : extents) {
    QLA_REQUIRE(e >= 0, what << ": negative extent " << e);
    QLA_REQUIRE(e == 0 || n <= kMaxElements / e,
                "problem too large: " << what << " would hold more than 2^40 elements");
    n *= e;
  }
  return n;
}

std::string Problem::label() const {
  std::ostringstream os;
  if (is_varlen()) {
    os << "varlen" << num_sequences();
  } else {
    os << 'b' << batch;
  }
  os << ".t" << tokens << ".h" << h_qk << 'x' << h_v << ".k" << k_dim << 'v' << v_dim << '.'
     << dtype_name(qkv_dtype);
  return os.str();
}

std::string Problem::class_label() const {
  std::ostringstream os;
  os << 'h' << h_qk << 'x' << h_v << ".k" << k_dim << 'v' << v_dim << '.' << dtype_name(qkv_dtype)
     << ".g-" << dtype_name(gate_dtype) << ".b-" << dtype_name(beta_dtype);
  if (initial_state) os << ".h0";
  if (final_state) os << ".ht";
  if (l2norm_qk) os << ".l2";
  os << ".s" << effective_scale();
  return os.str();
}

std::string Problem::key() const {
  std::string k = label();
  if (initial_state) k += ".h0";
  if (l2norm_qk) k += ".l2";
  if (is_varlen()) {
    k += ':';
    for (std::int64_t n = 0; n < num_sequences(); ++n)
      k += (n ? "," : "") + std::to_string(seq_length(n));
  }
  return k;
}

}  // namespace qla::gdn
