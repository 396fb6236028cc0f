// GPU tests of baseline (b), the unfused chunk pipeline (kernels/include/qla/gdn/unfused.hpp):
// every config of gdn.unfused against a float64 token recurrence on small edge problems,
// NaN-poisoned outputs, bit-identical repeats; argument checks. QLA_UNFUSED_TIMING=1 also times the
// headline shapes (CUDA events).
#include "qla/gdn/unfused.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gpu_guard.hpp"
#include "qla/error.hpp"

namespace qla::gdn {
namespace {

constexpr int kDim = 128;
constexpr int kChunk = 64;

#define CUDA_OK(call) ASSERT_EQ((call), cudaSuccess) << #call

/// One device allocation, freed on scope exit.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
    if (bytes > 0 && cudaMalloc(&ptr_, bytes) != cudaSuccess)
      throw std::runtime_error("cudaMalloc failed");
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/// Rounds x to `t` and returns the rounded value (what the kernel sees); appends its bits to
/// `bytes`.
double store(DType t, double x, std::vector<unsigned char>& bytes) {
  const auto push = [&](const void* p, std::size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    bytes.insert(bytes.end(), c, c + n);
  };
  switch (t) {
    case DType::kBF16: {
      const __nv_bfloat16 b = __float2bfloat16_rn(static_cast<float>(x));
      push(&b, 2);
      return __bfloat162float(b);
    }
    case DType::kF16: {
      const __half h = __float2half_rn(static_cast<float>(x));
      push(&h, 2);
      return __half2float(h);
    }
    default: {
      const float f = static_cast<float>(x);
      push(&f, 4);
      return f;
    }
  }
}

double load(DType t, const unsigned char* p) {
  if (t == DType::kBF16) {
    __nv_bfloat16 b;
    std::memcpy(&b, p, 2);
    return __bfloat162float(b);
  }
  if (t == DType::kF16) {
    __half h;
    std::memcpy(&h, p, 2);
    return __half2float(h);
  }
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

struct Case {
  std::string name;
  long long batch;
  long long tokens;
  std::vector<long long> cu;  // varlen offsets (batch 1) or empty
  int h_qk, h_v;
  bool h0, final_state;
  DType qkv = DType::kBF16, gate = DType::kF32, beta = DType::kF32;
};

/// Host inputs (rounded values as double, bytes as uploaded) and the sequence work list.
struct Inputs {
  Problem problem;
  std::vector<double> q, k, v, g, beta, h0;
  std::vector<unsigned char> qb, kb, vb, gb, bb;
  std::vector<int> cu, chunk_index, chunk_offset;
};

Inputs make_inputs(const Case& c, unsigned seed) {
  Inputs in;
  Problem& p = in.problem;
  p.batch = c.batch;
  p.tokens = c.tokens;
  for (long long x : c.cu) p.cu_seqlens.push_back(x);
  p.h_qk = c.h_qk;
  p.h_v = c.h_v;
  p.qkv_dtype = c.qkv;
  p.gate_dtype = c.gate;
  p.beta_dtype = c.beta;
  p.initial_state = c.h0;
  p.final_state = c.final_state;
  p.validate();
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.0, 16.0);
  const long long rows = p.total_tokens();
  // Per value head decay strength: head 0 never decays, the last one decays hard (g ≈ −21 per
  // token).
  std::vector<double> a_h(c.h_v);
  for (int h = 0; h < c.h_v; ++h) a_h[h] = h == 0 ? 0.0 : h == c.h_v - 1 ? 16.0 : uniform(rng);
  const auto l2_rows = [&](int heads, std::vector<double>& out, std::vector<unsigned char>& bytes) {
    for (long long r = 0; r < rows * heads; ++r) {
      double x[kDim], n2 = 0;
      for (double& e : x) {
        e = normal(rng);
        n2 += e * e;
      }
      for (double e : x) out.push_back(store(c.qkv, e / std::sqrt(n2), bytes));
    }
  };
  l2_rows(c.h_qk, in.q, in.qb);
  l2_rows(c.h_qk, in.k, in.kb);
  for (long long i = 0; i < rows * c.h_v * kDim; ++i)
    in.v.push_back(store(c.qkv, normal(rng), in.vb));
  for (long long r = 0; r < rows; ++r)
    for (int h = 0; h < c.h_v; ++h) {
      const double sp = std::log1p(std::exp(0.5 * normal(rng) + 1.0));
      in.g.push_back(store(c.gate, -a_h[h] * sp, in.gb));
      in.beta.push_back(store(c.beta, 1.0 / (1.0 + std::exp(-normal(rng))), in.bb));
    }
  const long long n_seq = p.num_sequences();
  if (c.h0)
    for (long long i = 0; i < n_seq * c.h_v * kDim * kDim; ++i)
      in.h0.push_back(static_cast<float>(normal(rng)));
  int nc = 0;
  for (long long n = 0; n <= n_seq; ++n)
    in.cu.push_back(static_cast<int>(n < n_seq ? p.seq_begin(n) : 0));
  in.cu.back() = static_cast<int>(n_seq > 0 ? p.seq_begin(n_seq - 1) + p.seq_length(n_seq - 1) : 0);
  for (long long n = 0; n < n_seq; ++n) {
    in.chunk_offset.push_back(nc);
    const long long chunks = (p.seq_length(n) + kChunk - 1) / kChunk;
    for (long long i = 0; i < chunks; ++i) {
      in.chunk_index.push_back(static_cast<int>(n));
      in.chunk_index.push_back(static_cast<int>(i));
      ++nc;
    }
  }
  in.chunk_offset.push_back(nc);
  return in;
}

/// float64 token recurrence: o [rows, H, V] (padding rows 0) and final states [N, H, K, V].
void reference(const Inputs& in, std::vector<double>& o, std::vector<double>& ht) {
  const Problem& p = in.problem;
  const int hv = p.h_v, group = p.h_v / p.h_qk;
  const double scale = p.effective_scale();
  o.assign(static_cast<std::size_t>(p.total_tokens()) * hv * kDim, 0.0);
  ht.assign(static_cast<std::size_t>(p.num_sequences()) * hv * kDim * kDim, 0.0);
  std::vector<double> s(kDim * kDim), sk(kDim);
  for (long long n = 0; n < p.num_sequences(); ++n)
    for (int h = 0; h < hv; ++h) {
      const std::size_t st = (static_cast<std::size_t>(n) * hv + h) * kDim * kDim;
      for (int i = 0; i < kDim * kDim; ++i) s[i] = in.h0.empty() ? 0.0 : in.h0[st + i];
      for (long long f = p.seq_begin(n); f < p.seq_begin(n) + p.seq_length(n); ++f) {
        const double* q = &in.q[(f * p.h_qk + h / group) * kDim];
        const double* k = &in.k[(f * p.h_qk + h / group) * kDim];
        const double* v = &in.v[(f * hv + h) * kDim];
        const double decay = std::exp(in.g[f * hv + h]), beta = in.beta[f * hv + h];
        for (double& x : s) x *= decay;
        std::fill(sk.begin(), sk.end(), 0.0);
        for (int i = 0; i < kDim; ++i)
          for (int j = 0; j < kDim; ++j) sk[j] += s[i * kDim + j] * k[i];
        for (int j = 0; j < kDim; ++j) sk[j] = beta * (v[j] - sk[j]);  // u
        for (int i = 0; i < kDim; ++i)
          for (int j = 0; j < kDim; ++j) s[i * kDim + j] += k[i] * sk[j];
        double* out = &o[(f * hv + h) * kDim];
        for (int i = 0; i < kDim; ++i)
          for (int j = 0; j < kDim; ++j) out[j] += scale * s[i * kDim + j] * q[i];
      }
      std::copy(s.begin(), s.end(), ht.begin() + static_cast<long long>(st));
    }
}

/// Device copies of the inputs and outputs of one case, and a forward call on them.
struct DeviceProblem {
  explicit DeviceProblem(const Inputs& in)
      : problem(in.problem),
        q(in.qb.size()),
        k(in.kb.size()),
        v(in.vb.size()),
        g(in.gb.size()),
        beta(in.bb.size()),
        o(in.vb.size()),
        h0(in.h0.size() * sizeof(float)),
        ht(static_cast<std::size_t>(problem.num_sequences()) * problem.h_v * kDim * kDim *
           sizeof(float)),
        cu(in.cu.size() * sizeof(int)),
        chunk_index(std::max<std::size_t>(in.chunk_index.size(), 1) * sizeof(int)),
        chunk_offset(in.chunk_offset.size() * sizeof(int)),
        workspace(std::max<std::size_t>(unfused_workspace_bytes(problem), 256)) {
    const auto up = [](const DeviceBuffer& d, const void* src, std::size_t n) {
      if (n && cudaMemcpy(d.get(), src, n, cudaMemcpyHostToDevice) != cudaSuccess)
        throw std::runtime_error("upload");
    };
    up(q, in.qb.data(), in.qb.size());
    up(k, in.kb.data(), in.kb.size());
    up(v, in.vb.data(), in.vb.size());
    up(g, in.gb.data(), in.gb.size());
    up(beta, in.bb.data(), in.bb.size());
    std::vector<float> h0f(in.h0.begin(), in.h0.end());
    up(h0, h0f.data(), h0f.size() * sizeof(float));
    up(cu, in.cu.data(), in.cu.size() * sizeof(int));
    up(chunk_index, in.chunk_index.data(), in.chunk_index.size() * sizeof(int));
    up(chunk_offset, in.chunk_offset.data(), in.chunk_offset.size() * sizeof(int));
    const long long T = problem.tokens;
    const long long hk = problem.h_qk, hv = problem.h_v;
    args.tensors.q = {q.get(), T * hk * kDim, hk * kDim, kDim};
    args.tensors.k = {k.get(), T * hk * kDim, hk * kDim, kDim};
    args.tensors.v = {v.get(), T * hv * kDim, hv * kDim, kDim};
    args.tensors.o = {o.get(), T * hv * kDim, hv * kDim, kDim};
    args.tensors.g = {g.get(), T * hv, hv, 1};
    args.tensors.beta = {beta.get(), T * hv, hv, 1};
    args.tensors.h0 = {problem.initial_state ? h0.get() : nullptr};
    args.tensors.ht = {problem.final_state ? ht.get() : nullptr};
    args.tensors.seq = {static_cast<const int*>(cu.get()),
                        static_cast<const int*>(chunk_index.get()),
                        static_cast<const int*>(chunk_offset.get()),
                        static_cast<int>(problem.num_sequences()),
                        static_cast<int>(in.chunk_index.size() / 2),
                        T,
                        problem.total_tokens()};
    args.tensors.h_qk = problem.h_qk;
    args.tensors.h_v = problem.h_v;
    args.tensors.scale = static_cast<float>(problem.effective_scale());
    args.qkv_dtype = problem.qkv_dtype;
    args.gate_dtype = problem.gate_dtype;
    args.beta_dtype = problem.beta_dtype;
  }

  /// Poisons o and ht with NaN (0xFF bytes), runs the forward, downloads o and ht bytes.
  void run(const UnfusedConfig& config, std::vector<unsigned char>& o_out,
           std::vector<unsigned char>& ht_out) {
    if (cudaMemset(o.get(), 0xFF, o.bytes()) != cudaSuccess ||
        cudaMemset(ht.get(), 0xFF, ht.bytes()) != cudaSuccess)
      throw std::runtime_error("memset");
    unfused_forward(args, config, workspace.get(), workspace.bytes(), nullptr);
    if (cudaDeviceSynchronize() != cudaSuccess)
      throw std::runtime_error(cudaGetErrorString(cudaGetLastError()));
    o_out.resize(o.bytes());
    ht_out.resize(ht.bytes());
    if (cudaMemcpy(o_out.data(), o.get(), o.bytes(), cudaMemcpyDeviceToHost) != cudaSuccess ||
        cudaMemcpy(ht_out.data(), ht.get(), ht.bytes(), cudaMemcpyDeviceToHost) != cudaSuccess)
      throw std::runtime_error("download");
  }

  Problem problem;
  DeviceBuffer q, k, v, g, beta, o, h0, ht, cu, chunk_index, chunk_offset, workspace;
  UnfusedArgs args;
};

double rel_frobenius(const std::vector<double>& x, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    num += (x[i] - ref[i]) * (x[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

std::vector<Case> edge_cases() {
  using D = DType;
  return {
      {"t1_h0", 1, 1, {}, 1, 1, true, true},
      {"b2_t63_gva2", 2, 63, {}, 2, 4, false, true},
      {"t64_gva4_h0", 1, 64, {}, 1, 4, true, true},
      {"b2_t65_fp16_bf16gates_h0", 2, 65, {}, 2, 2, true, true, D::kF16, D::kBF16, D::kBF16},
      {"varlen_empty_1tok_padding_h0", 1, 210, {0, 1, 1, 130, 200}, 2, 4, true, true},
      {"t300_fp16_no_final_state", 1, 300, {}, 1, 2, false, false, D::kF16},
      {"varlen_all_padding_tail",
       1,
       150,
       {0, 129, 129},
       1,
       1,
       true,
       true,
       D::kBF16,
       D::kF32,
       D::kBF16},
  };
}

class UnfusedConfigs : public ::testing::TestWithParam<std::size_t> {};

TEST_P(UnfusedConfigs, MatchesFloat64RecurrenceOnEdgeCases) {
  QLA_REQUIRE_GPU();
  const Point point = unfused_space().point_at_flat(GetParam());
  const UnfusedConfig config = UnfusedConfig::from_point(point);
  double worst_o = 0, worst_ht = 0;
  unsigned seed = 42;
  for (const Case& c : edge_cases()) {
    SCOPED_TRACE(c.name + " " + config.label());
    const Inputs in = make_inputs(c, seed++);
    ASSERT_EQ(can_implement(in.problem, config), "");
    std::vector<double> o_ref, ht_ref;
    reference(in, o_ref, ht_ref);
    DeviceProblem dev(in);
    std::vector<unsigned char> o1, ht1, o2, ht2;
    dev.run(config, o1, ht1);
    dev.run(config, o2, ht2);
    EXPECT_TRUE(o1 == o2) << "o differs between two runs";
    if (c.final_state) {
      EXPECT_TRUE(ht1 == ht2) << "final state differs between two runs";
    }

    const Problem& p = in.problem;
    const std::size_t es = dtype_size(p.qkv_dtype);
    const long long valid_end = p.is_varlen() ? p.cu_seqlens.back() : p.total_tokens();
    std::vector<double> o, o_want;
    long long nan = 0, nonzero_pad = 0;
    for (long long f = 0; f < p.total_tokens(); ++f)
      for (long long i = 0; i < static_cast<long long>(p.h_v) * kDim; ++i) {
        const std::size_t idx = static_cast<std::size_t>(f * p.h_v * kDim + i);
        const double x = load(p.qkv_dtype, &o1[idx * es]);
        if (std::isnan(x)) ++nan;
        if (f >= valid_end) {
          if (x != 0.0) ++nonzero_pad;
        } else {
          o.push_back(x);
          o_want.push_back(o_ref[idx]);
        }
      }
    EXPECT_EQ(nan, 0) << "NaN left in o (rows not written)";
    EXPECT_EQ(nonzero_pad, 0) << "padding rows of o not zeroed";
    if (!o.empty()) {
      const double e = rel_frobenius(o, o_want);
      EXPECT_LE(e, 0.005) << "o";
      worst_o = std::max(worst_o, e);
    }
    if (c.final_state) {
      std::vector<double> ht(ht_ref.size());
      for (std::size_t i = 0; i < ht.size(); ++i) ht[i] = load(DType::kF32, &ht1[i * 4]);
      const double e = rel_frobenius(ht, ht_ref);
      EXPECT_LE(e, 0.005) << "final state";
      worst_ht = std::max(worst_ht, e);
    }
  }
  std::printf("[unfused %s] worst rel. Frobenius error: o %.3e, final state %.3e\n",
              config.label().c_str(), worst_o, worst_ht);
}

std::string point_name(const ::testing::TestParamInfo<std::size_t>& point) {
  std::string name = unfused_space().label(unfused_space().point_at_flat(point.param));
  std::replace(name.begin(), name.end(), '.', '_');  // gtest names: alphanumerics and '_' only
  return name;
}
INSTANTIATE_TEST_SUITE_P(AllPoints, UnfusedConfigs,
                         ::testing::Range<std::size_t>(0, unfused_space().size()), point_name);

TEST(UnfusedChecks, ForwardRejectsBadArgumentsBeforeLaunching) {
  const Inputs in = make_inputs({"small", 1, 64, {}, 1, 1, false, true}, 7);
  // Host-side checks run before any CUDA call, so they hold without a GPU too.
  UnfusedArgs args;
  args.tensors.h_qk = 1;
  args.tensors.h_v = 1;
  EXPECT_THROW(unfused_forward(args, UnfusedConfig{}, nullptr, 0, nullptr), UserError);  // null q
  QLA_REQUIRE_GPU();
  DeviceProblem dev(in);
  UnfusedArgs misaligned = dev.args;
  misaligned.tensors.q.data = static_cast<char*>(misaligned.tensors.q.data) + 2;
  EXPECT_THROW(unfused_forward(misaligned, UnfusedConfig{}, dev.workspace.get(),
                               dev.workspace.bytes(), nullptr),
               UserError);
  UnfusedArgs odd_stride = dev.args;
  odd_stride.tensors.v.stride_token += 1;
  EXPECT_THROW(unfused_forward(odd_stride, UnfusedConfig{}, dev.workspace.get(),
                               dev.workspace.bytes(), nullptr),
               UserError);
  EXPECT_THROW(unfused_forward(dev.args, UnfusedConfig{}, dev.workspace.get(), 1024, nullptr),
               UserError);
  UnfusedArgs gva = dev.args;
  gva.tensors.h_qk = 3;
  EXPECT_THROW(
      unfused_forward(gva, UnfusedConfig{}, dev.workspace.get(), dev.workspace.bytes(), nullptr),
      UserError);
}

}  // namespace
}  // namespace qla::gdn
