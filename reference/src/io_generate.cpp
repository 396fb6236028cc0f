#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <stdexcept>

#include "qla/error.hpp"
#include "qla/io/generate.hpp"
#include "ref_common.hpp"

namespace qla::gdn {
namespace {

// Fixed stream ids, one per tensor: changing one would change every generated file, so never
// renumber.
enum StreamId : std::uint64_t {
  kStreamQ = 1,
  kStreamK,
  kStreamV,
  kStreamG,
  kStreamGateScale,
  kStreamBeta,
  kStreamH0,
  kStreamDo,
  kStreamDht,
  kStreamZeroHeads,
};

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// mt19937_64 plus our own uniform / Box–Muller normal: identical output with every standard
/// library.
class Rng {
 public:
  Rng(std::uint64_t seed, StreamId stream) : engine_(splitmix64(splitmix64(seed) ^ stream)) {}
  /// Block `block` of a stream: block 0 is the stream itself, so tensors of one block are
  /// unchanged.
  Rng(std::uint64_t seed, StreamId stream, std::uint64_t block)
      : engine_(block == 0 ? splitmix64(splitmix64(seed) ^ stream)
                           : splitmix64(splitmix64(seed) ^ stream ^ splitmix64(block))) {}

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  /// Standard normal (Box–Muller; both values of a pair are used).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 2.0 * 3.14159265358979323846 * u2;
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }

  /// Uniform integer in [0, n), n > 0 (modulo bias is below 2^-40 for the head counts used here).
  std::uint64_t below(std::uint64_t n) { return engine_() % n; }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

double softplus(double x) { return std::log1p(std::exp(-std::fabs(x))) + std::fmax(x, 0.0); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double log_sigmoid(double x) { return -softplus(-x); }

/// Elements drawn from one Rng: the big tensors are filled block by block on all cores, with the
/// same values for every thread count.
constexpr std::int64_t kBlockElements = std::int64_t{1} << 16;

/// Runs body(block, begin, end) over [0, n) in kBlockElements blocks, in parallel.
void for_blocks(std::int64_t n,
                const std::function<void(std::uint64_t, std::int64_t, std::int64_t)>& body) {
  const std::int64_t blocks = (n + kBlockElements - 1) / kBlockElements;
  ref::detail::parallel_for(static_cast<std::size_t>(blocks), [&](std::size_t b) {
    const std::int64_t begin = static_cast<std::int64_t>(b) * kBlockElements;
    body(b, begin, std::min(n, begin + kBlockElements));
  });
}

Tensor randn(DType dtype, std::vector<std::int64_t> shape, std::uint64_t seed, StreamId stream,
             double factor = 1.0) {
  Tensor t(dtype, std::move(shape));
  for_blocks(t.numel(), [&](std::uint64_t b, std::int64_t begin, std::int64_t end) {
    Rng rng(seed, stream, b);
    for (std::int64_t i = begin; i < end; ++i) t.set(i, factor * rng.normal());
  });
  return t;
}

/// randn rows of length `dim` (a divisor of kBlockElements), optionally l2-normalised the way
/// FlashQLA's l2norm does it: fp32 y = x · rsqrt(Σx² + 1e−6), then cast to the tensor's dtype.
Tensor randn_rows(DType dtype, std::vector<std::int64_t> shape, std::uint64_t seed, StreamId stream,
                  bool normalise) {
  Tensor t(dtype, std::move(shape));
  const std::int64_t dim = t.shape().back();
  QLA_REQUIRE(kBlockElements % dim == 0,
              "randn_rows: row length " << dim << " does not divide the block");
  for_blocks(t.numel(), [&](std::uint64_t b, std::int64_t begin, std::int64_t end) {
    Rng rng(seed, stream, b);
    std::vector<float> row(static_cast<std::size_t>(dim));
    for (std::int64_t base = begin; base < end; base += dim) {
      float ss = 0.0f;
      for (std::int64_t j = 0; j < dim; ++j) {
        row[j] = static_cast<float>(rng.normal());
        ss += row[j] * row[j];
      }
      const float inv = normalise ? 1.0f / std::sqrt(ss + 1e-6f) : 1.0f;
      for (std::int64_t j = 0; j < dim; ++j) t.set(base + j, row[j] * inv);
    }
  });
  return t;
}

Tensor gate(const Problem& p, const GenerateOptions& o) {
  const auto shape = tensor_shape(p, "g");
  const std::int64_t heads = p.h_v;
  Tensor g(p.gate_dtype, shape);
  Rng rng(o.seed, kStreamG);
  if (o.distribution == Distribution::kTest) {
    std::vector<double> a(static_cast<std::size_t>(heads));
    Rng scale_rng(o.seed, kStreamGateScale);
    for (auto& ah : a) ah = 16.0 * scale_rng.uniform();
    a.front() = 0.0;                 // head 0 never decays: the CP fallback path
    if (heads > 1) a.back() = 16.0;  // the last head decays by ≈ −21 per token
    for (std::int64_t i = 0; i < g.numel(); ++i) {
      g.set(i, -a[static_cast<std::size_t>(i % heads)] * softplus(0.5 * rng.normal() + 1.0));
    }
  } else {
    // A random ceil(0.75·H) of the heads keep the gate (first entries of a Fisher–Yates
    // permutation).
    std::vector<int> order(static_cast<std::size_t>(heads));
    for (int h = 0; h < heads; ++h) order[static_cast<std::size_t>(h)] = h;
    Rng heads_rng(o.seed, kStreamZeroHeads);
    for (std::size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[heads_rng.below(i)]);
    const auto keep_count =
        o.distribution == Distribution::kBenchDecaying
            ? order.size()
            : static_cast<std::size_t>(std::ceil(0.75 * static_cast<double>(heads)));
    std::vector<bool> keep(static_cast<std::size_t>(heads), false);
    for (std::size_t i = 0; i < keep_count; ++i) keep[static_cast<std::size_t>(order[i])] = true;
    for (std::int64_t i = 0; i < g.numel(); ++i) {
      const double z =
          rng.normal();  // drawn for every element, so the kept heads do not depend on the mask
      g.set(i, keep[static_cast<std::size_t>(i % heads)] ? log_sigmoid(z) / 16.0 : 0.0);
    }
  }
  return g;
}

}  // namespace

std::string_view distribution_name(Distribution d) {
  switch (d) {
    case Distribution::kTest:
      return "test";
    case Distribution::kBench:
      return "bench";
    case Distribution::kBenchDecaying:
      return "bench-decaying";
  }
  return "bench";
}

std::optional<Distribution> parse_distribution(std::string_view name) {
  if (name == "test") return Distribution::kTest;
  if (name == "bench") return Distribution::kBench;
  if (name == "bench-decaying") return Distribution::kBenchDecaying;
  return std::nullopt;
}

std::vector<std::int64_t> tensor_shape(const Problem& p, std::string_view name) {
  const std::int64_t b = p.batch, t = p.tokens, n = p.num_sequences();
  if (name == "q" || name == "k" || name == "dq" || name == "dk") return {b, t, p.h_qk, p.k_dim};
  if (name == "v" || name == "o" || name == "do" || name == "dv") return {b, t, p.h_v, p.v_dim};
  if (name == "g" || name == "beta" || name == "dg" || name == "dbeta") return {b, t, p.h_v};
  if (name == "h0" || name == "ht" || name == "dht" || name == "dh0")
    return {n, p.h_v, p.k_dim, p.v_dim};
  if (name == "cu_seqlens") return {static_cast<std::int64_t>(p.cu_seqlens.size())};
  throw std::invalid_argument("tensor_shape: unknown tensor name " + std::string(name));
}

ProblemTensors generate_inputs(const Problem& p, const GenerateOptions& o) {
  p.validate();
  QLA_REQUIRE(o.cu_seqlens_dtype == DType::kI32 || o.cu_seqlens_dtype == DType::kI64,
              "cu_seqlens dtype must be i32 or i64, got " << dtype_name(o.cu_seqlens_dtype));
  const bool normalise = !p.l2norm_qk;
  ProblemTensors out{randn_rows(p.qkv_dtype, tensor_shape(p, "q"), o.seed, kStreamQ, normalise),
                     randn_rows(p.qkv_dtype, tensor_shape(p, "k"), o.seed, kStreamK, normalise),
                     randn(p.qkv_dtype, tensor_shape(p, "v"), o.seed, kStreamV),
                     gate(p, o),
                     Tensor(p.beta_dtype, tensor_shape(p, "beta")),
                     std::nullopt,
                     std::nullopt,
                     std::nullopt,
                     std::nullopt};
  Rng beta_rng(o.seed, kStreamBeta);
  for (std::int64_t i = 0; i < out.beta.numel(); ++i) out.beta.set(i, sigmoid(beta_rng.normal()));
  if (p.initial_state) out.h0 = randn(DType::kF32, tensor_shape(p, "h0"), o.seed, kStreamH0);
  if (p.is_varlen()) {
    Tensor cu(o.cu_seqlens_dtype, tensor_shape(p, "cu_seqlens"));
    for (std::size_t i = 0; i < p.cu_seqlens.size(); ++i)
      cu.set(static_cast<std::int64_t>(i), double(p.cu_seqlens[i]));
    out.cu_seqlens = std::move(cu);
  }
  if (o.backward) {
    out.d_o = randn(p.qkv_dtype, tensor_shape(p, "do"), o.seed, kStreamDo);
    out.dht = randn(DType::kF32, tensor_shape(p, "dht"), o.seed, kStreamDht, 1.0 / 8.0);
  }
  return out;
}

ref::ForwardInputs to_forward_inputs(const Problem& p, const ProblemTensors& t) {
  ref::ForwardInputs in;
  in.problem = p;
  in.q = t.q.to_doubles();
  in.k = t.k.to_doubles();
  in.v = t.v.to_doubles();
  in.g = t.g.to_doubles();
  in.beta = t.beta.to_doubles();
  if (p.initial_state) {
    QLA_REQUIRE(t.h0.has_value(),
                "h0: the problem has an initial state but no h0 tensor was given");
    in.h0 = t.h0->to_doubles();
  }
  return in;
}

std::uint64_t problem_elements(const Problem& p) {
  p.validate();  // bounds every count below
  const auto rows = static_cast<std::uint64_t>(p.batch) * static_cast<std::uint64_t>(p.tokens);
  const auto states = static_cast<std::uint64_t>(p.num_sequences()) *
                      static_cast<std::uint64_t>(p.h_v) * static_cast<std::uint64_t>(p.k_dim) *
                      static_cast<std::uint64_t>(p.v_dim);
  return rows * (2 * static_cast<std::uint64_t>(p.h_qk) * static_cast<std::uint64_t>(p.k_dim) +
                 2 * static_cast<std::uint64_t>(p.h_v) * static_cast<std::uint64_t>(p.v_dim) +
                 2 * static_cast<std::uint64_t>(p.h_v)) +
         2 * states;
}

void require_host_memory(std::uint64_t bytes, const std::string& what) {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return;  // unknown: let the allocation decide
  const auto have = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
  QLA_REQUIRE(bytes <= have, what << " needs about " << (bytes >> 20)
                                  << " MiB of host memory; this machine has " << (have >> 20)
                                  << " MiB");
}

}  // namespace qla::gdn
