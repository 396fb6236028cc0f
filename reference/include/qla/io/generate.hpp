// Problem inputs as host tensors: fixed-seed generators for FlashQLA's two input distributions,
// validation of tensors a user brings, and the conversion to the float64 reference's inputs. Plain
// C++17, no CUDA.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qla/dtype.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/io/tensor.hpp"
#include "qla/ref/gdn_reference.hpp"

namespace qla::gdn {

/// The input distributions of FlashQLA's unit tests and of its benchmark.
enum class Distribution {
  /// FlashQLA's unit tests: q, k = l2norm(randn) cast to the qkv dtype; v = randn;
  /// g = −A_h·softplus(0.5·randn + 1) with A_h ~ U[0,16) per value head, A_0 = 0 (never decays) and
  /// A_{H−1} = 16 (decays ≈ −21 per token) when H > 1; beta = sigmoid(randn); h0 = randn.
  kTest,
  /// FlashQLA's benchmark: q, k = l2norm(randn); v = randn; g = logsigmoid(randn)/16 on
  /// ceil(0.75·H) randomly chosen value heads and g ≡ 0 on the others; beta = sigmoid(randn);
  /// h0 = randn.
  kBench,
  /// FlashQLA's benchmark with the gate kept on every value head, as in a trained model, whose
  /// gates −exp(A)·softplus(·) never vanish: the same bytes as kBench but g on the heads kBench
  /// zeroes. Where no head keeps a zero gate, no CP piece needs the exact transition.
  kBenchDecaying,
};

/// "test" / "bench" / "bench-decaying".
std::string_view distribution_name(Distribution d);
/// Parses distribution_name(); nullopt when unknown.
std::optional<Distribution> parse_distribution(std::string_view name);

/// How to generate a problem's tensors.
struct GenerateOptions {
  Distribution distribution = Distribution::kTest;
  std::uint64_t seed = 42;
  bool backward = false;  ///< also generate d_o (randn, qkv dtype) and dht (randn/8, f32)
  DType cu_seqlens_dtype = DType::kI32;  ///< kI32 or kI64
};

/// The tensors of one GDN call, in the problem's layouts (see gdn::Problem) and dtypes.
///   q, k [B, T, h_qk, K] qkv dtype   v [B, T, h_v, V] qkv dtype   g [B, T, h_v] gate dtype
///   beta [B, T, h_v] beta dtype      h0, dht [N, h_v, K, V] f32   d_o [B, T, h_v, V] qkv dtype
///   cu_seqlens [N + 1] i32 or i64 (varlen only)
struct ProblemTensors {
  Tensor q, k, v, g, beta;
  std::optional<Tensor> h0;          ///< present iff problem.initial_state
  std::optional<Tensor> cu_seqlens;  ///< present iff problem.is_varlen()
  std::optional<Tensor> d_o;         ///< gradient of o ("do"), backward only
  std::optional<Tensor> dht;  ///< gradient of the final state, backward only (optional there too)
};

/// Elements of every tensor a forward of `problem` reads or writes (q, k, v, o, g, β, and the
/// initial and final states), summed; each count is bounded by the problem's own validation.
std::uint64_t problem_elements(const Problem& problem);

/// UserError naming `what` when `bytes` exceed this machine's physical memory: asked-for sizes that
/// cannot be held are refused before anything is allocated.
void require_host_memory(std::uint64_t bytes, const std::string& what);

/// Generates every tensor of `problem` deterministically from options.seed.
///
/// Portability: each tensor draws from its own std::mt19937_64 stream, seeded by splitmix64 of
/// (seed, a fixed per-tensor id), and normals come from our own Box–Muller on 53-bit uniforms
/// (never std::normal_distribution, whose output differs between standard libraries). So the bytes
/// depend only on the seed, the problem and the distribution, and a tensor does not change when
/// another is added (--backward or --no-h0 leave q..beta alone). With problem.l2norm_qk the op
/// normalises q and k itself, so they are left as raw randn.
ProblemTensors generate_inputs(const Problem& problem, const GenerateOptions& options);

/// Expected shape of the tensor called `name` ("q", "k", "v", "g", "beta", "h0", "do", "dht",
/// "cu_seqlens", "o", "ht", "dq", "dk", "dv", "dg", "dbeta", "dh0") for `problem`. Throws
/// std::invalid_argument on other names.
std::vector<std::int64_t> tensor_shape(const Problem& problem, std::string_view name);

/// How strict validate_inputs is.
struct ValidateOptions {
  /// Accept cu_seqlens ending before T (the rows after it are padding). Off: it must end exactly at
  /// T.
  bool allow_padding = false;
};

/// Reads a cu_seqlens tensor: rank 1, i32 or i64, at least 2 entries. Throws UserError naming
/// `name`.
std::vector<std::int64_t> cu_seqlens_values(const Tensor& cu_seqlens,
                                            const std::string& name = "cu_seqlens");

/// Checks cu_seqlens: starts at 0, non-decreasing, ends at `tokens` (or at most `tokens` with
/// allow_padding). Throws UserError naming the first bad entry.
void validate_cu_seqlens(const std::vector<std::int64_t>& cu_seqlens, std::int64_t tokens,
                         const ValidateOptions& options = {});

/// Throws UserError "<name>: element [i, j, ...] is NaN" (or +Inf / -Inf) at the first non-finite
/// element.
void check_finite(const Tensor& tensor, const std::string& name);

/// Validates tensors against a problem: the problem itself (h_v a multiple of h_qk, ...), every
/// tensor's presence, dtype (q, k, v, do: qkv dtype; g: gate dtype; beta: beta dtype; h0, dht: any
/// floating type; cu_seqlens: i32/i64 equal to problem.cu_seqlens), rank and shape, cu_seqlens
/// rules, and NaN/Inf anywhere. Each failure is one UserError naming the tensor and what is wrong.
void validate_inputs(const Problem& problem, const ProblemTensors& tensors,
                     const ValidateOptions& options = {});

/// The forward inputs of the float64 reference (problem copied, tensors widened to double; h0 only
/// when problem.initial_state).
ref::ForwardInputs to_forward_inputs(const Problem& problem, const ProblemTensors& tensors);

}  // namespace qla::gdn
