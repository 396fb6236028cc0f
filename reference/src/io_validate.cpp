#include <cmath>

#include "qla/error.hpp"
#include "qla/io/generate.hpp"

namespace qla::gdn {
namespace {

void check_tensor(const Tensor& t, const std::string& name, const std::vector<std::int64_t>& shape,
                  std::optional<DType> dtype) {
  if (dtype) {
    QLA_REQUIRE(t.dtype() == *dtype, name << ": wrong dtype: expected " << dtype_name(*dtype)
                                          << ", got " << dtype_name(t.dtype()));
  } else {
    QLA_REQUIRE(is_floating(t.dtype()),
                name << ": wrong dtype: expected a floating type, got " << dtype_name(t.dtype()));
  }
  QLA_REQUIRE(t.rank() == static_cast<int>(shape.size()),
              name << ": wrong rank: expected " << shape.size() << " dims " << shape_string(shape)
                   << ", got " << t.rank() << " dims " << t.shape_string());
  QLA_REQUIRE(t.shape() == shape, name << ": wrong shape: expected " << shape_string(shape)
                                       << ", got " << t.shape_string());
  check_finite(t, name);
}

}  // namespace

std::vector<std::int64_t> cu_seqlens_values(const Tensor& cu, const std::string& name) {
  QLA_REQUIRE(cu.dtype() == DType::kI32 || cu.dtype() == DType::kI64,
              name << ": wrong dtype: expected i32 or i64, got " << dtype_name(cu.dtype()));
  QLA_REQUIRE(cu.rank() == 1, name << ": wrong rank: expected 1 dim [N + 1], got " << cu.rank()
                                   << " dims " << cu.shape_string());
  QLA_REQUIRE(cu.numel() >= 2,
              name << ": needs at least 2 entries (one sequence), got " << cu.numel());
  std::vector<std::int64_t> out(static_cast<std::size_t>(cu.numel()));
  for (std::int64_t i = 0; i < cu.numel(); ++i)
    out[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(cu.get(i));
  return out;
}

void validate_cu_seqlens(const std::vector<std::int64_t>& cu, std::int64_t tokens,
                         const ValidateOptions& options) {
  QLA_REQUIRE(cu.size() >= 2,
              "cu_seqlens: needs at least 2 entries (one sequence), got " << cu.size());
  QLA_REQUIRE(cu.front() == 0, "cu_seqlens: must start at 0, but entry 0 is " << cu.front());
  for (std::size_t i = 1; i < cu.size(); ++i) {
    QLA_REQUIRE(cu[i] >= cu[i - 1], "cu_seqlens: must be non-decreasing, but entry "
                                        << i << " (" << cu[i] << ") < entry " << i - 1 << " ("
                                        << cu[i - 1] << ")");
  }
  if (options.allow_padding) {
    QLA_REQUIRE(cu.back() <= tokens, "cu_seqlens: last entry "
                                         << cu.back() << " exceeds the token count T = " << tokens);
  } else {
    QLA_REQUIRE(cu.back() == tokens, "cu_seqlens: must end at the token count T = "
                                         << tokens << ", but the last entry is " << cu.back()
                                         << " (trailing padding needs --allow-padding)");
  }
}

void check_finite(const Tensor& t, const std::string& name) {
  if (!is_floating(t.dtype())) return;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const double x = t.get(i);
    if (!std::isfinite(x)) {
      throw UserError(name + ": element " + t.index_string(i) + " is " +
                      (std::isnan(x) ? "NaN" : (x > 0 ? "+Inf" : "-Inf")) +
                      "; inputs must be finite");
    }
  }
}

void validate_inputs(const Problem& p, const ProblemTensors& t, const ValidateOptions& options) {
  p.validate();
  if (p.is_varlen()) {
    validate_cu_seqlens(p.cu_seqlens, p.tokens, options);
    QLA_REQUIRE(t.cu_seqlens.has_value(),
                "cu_seqlens: the problem is varlen but no cu_seqlens tensor was given");
    QLA_REQUIRE(cu_seqlens_values(*t.cu_seqlens) == p.cu_seqlens,
                "cu_seqlens: the tensor's offsets differ from the problem's");
  } else {
    QLA_REQUIRE(!t.cu_seqlens.has_value(),
                "cu_seqlens: given for a fixed-length problem (batch "
                    << p.batch << "); varlen problems set cu_seqlens in the problem");
  }
  check_tensor(t.q, "q", tensor_shape(p, "q"), p.qkv_dtype);
  check_tensor(t.k, "k", tensor_shape(p, "k"), p.qkv_dtype);
  check_tensor(t.v, "v", tensor_shape(p, "v"), p.qkv_dtype);
  check_tensor(t.g, "g", tensor_shape(p, "g"), p.gate_dtype);
  check_tensor(t.beta, "beta", tensor_shape(p, "beta"), p.beta_dtype);
  if (p.initial_state) {
    QLA_REQUIRE(t.h0.has_value(),
                "h0: the problem has an initial state but no h0 tensor was given");
    check_tensor(*t.h0, "h0", tensor_shape(p, "h0"), std::nullopt);
  }
  if (t.d_o) check_tensor(*t.d_o, "do", tensor_shape(p, "do"), p.qkv_dtype);
  if (t.dht) check_tensor(*t.dht, "dht", tensor_shape(p, "dht"), std::nullopt);
}

}  // namespace qla::gdn
