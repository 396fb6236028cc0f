// GPU tests of the small kernels and of the forward API: naive forward (every config), cumsum,
// l2norm, the CP small kernels, the forward for each algorithm, and bad input. Compared with
// float64 loops written here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "gpu_guard.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/cuda/launcher.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/cp_m_map.hpp"
#include "qla/gdn/cumsum.hpp"
#include "qla/gdn/device_problem.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/gdn/l2norm.hpp"
#include "qla/gdn/naive_fwd.hpp"
#include "qla/gdn/work_list.hpp"
#include "validation_record.hpp"

namespace qla::gdn {
namespace {

using cuda::DeviceBuffer;

std::uint16_t to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<std::uint16_t>(u >> 16);
}
float from_bf16(std::uint16_t h) {
  const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// Host inputs of one problem (bf16 q/k/v stored as rounded floats and raw bits; fp32 g, beta, h0).
struct Inputs {
  Problem p;
  std::vector<float> q, k, v, g, beta, h0;  // values after bf16 rounding for q/k/v
  std::vector<std::uint16_t> qb, kb, vb;
};

Inputs make_inputs(Problem p, unsigned seed) {
  Inputs in;
  in.p = p;
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01;
  const long long rows = p.total_tokens();
  auto fill_unit = [&](std::vector<float>& x, std::vector<std::uint16_t>& xb, int heads,
                       bool normalize) {
    x.resize(static_cast<std::size_t>(rows) * heads * 128);
    xb.resize(x.size());
    for (std::size_t i = 0; i < x.size(); i += 128) {
      double ss = 0;
      for (int d = 0; d < 128; ++d) {
        x[i + d] = n01(rng);
        ss += double(x[i + d]) * x[i + d];
      }
      const double s = normalize ? 1.0 / std::sqrt(ss + 1e-6) : 1.0;
      for (int d = 0; d < 128; ++d) {
        xb[i + d] = to_bf16(static_cast<float>(x[i + d] * s));
        x[i + d] = from_bf16(xb[i + d]);
      }
    }
  };
  fill_unit(in.q, in.qb, p.h_qk, true);
  fill_unit(in.k, in.kb, p.h_qk, true);
  fill_unit(in.v, in.vb, p.h_v, false);
  in.g.resize(static_cast<std::size_t>(rows) * p.h_v);
  in.beta.resize(in.g.size());
  for (std::size_t i = 0; i < in.g.size(); ++i) {
    const int h = static_cast<int>(i % p.h_v);
    // FlashQLA's test gate: A_0 = 0 (zero gate), A_{H-1} = 16 (strong decay), others in between.
    const double a = h == 0 ? 0.0 : (h == p.h_v - 1 ? 16.0 : 16.0 * h / p.h_v);
    const double x = 0.5 * n01(rng) + 1.0;
    in.g[i] = static_cast<float>(-a * std::log1p(std::exp(x)));
    in.beta[i] = static_cast<float>(1.0 / (1.0 + std::exp(-n01(rng))));
  }
  if (p.initial_state) {
    in.h0.resize(static_cast<std::size_t>(p.num_sequences()) * p.h_v * 128 * 128);
    for (auto& x : in.h0) x = n01(rng);
  }
  return in;
}

/// float64 token recurrence: o [rows, h_v, 128], ht [N, h_v, 128, 128].
void reference(const Inputs& in, std::vector<double>& o, std::vector<double>& ht) {
  const Problem& p = in.p;
  const int group = p.h_v / p.h_qk;
  const double scale = p.effective_scale();
  o.assign(static_cast<std::size_t>(p.total_tokens()) * p.h_v * 128, 0.0);
  ht.assign(static_cast<std::size_t>(p.num_sequences()) * p.h_v * 128 * 128, 0.0);
  std::vector<double> S(128 * 128), qn(128), kn(128);
  for (long long n = 0; n < p.num_sequences(); ++n) {
    for (int h = 0; h < p.h_v; ++h) {
      const int hq = h / group;
      for (int i = 0; i < 128 * 128; ++i)
        S[i] = p.initial_state ? in.h0[(static_cast<std::size_t>(n) * p.h_v + h) * 128 * 128 + i]
                               : 0.0;
      for (long long t = p.seq_begin(n); t < p.seq_begin(n) + p.seq_length(n); ++t) {
        const std::size_t qk = (static_cast<std::size_t>(t) * p.h_qk + hq) * 128;
        const std::size_t vv = (static_cast<std::size_t>(t) * p.h_v + h) * 128;
        double qs = 0, ks = 0;
        for (int d = 0; d < 128; ++d) {
          qn[d] = in.q[qk + d];
          kn[d] = in.k[qk + d];
          qs += qn[d] * qn[d];
          ks += kn[d] * kn[d];
        }
        if (p.l2norm_qk) {
          for (int d = 0; d < 128; ++d) {
            qn[d] /= std::sqrt(qs + 1e-6);
            kn[d] /= std::sqrt(ks + 1e-6);
          }
        }
        const double decay = std::exp(static_cast<double>(in.g[t * p.h_v + h]));
        const double beta = in.beta[t * p.h_v + h];
        for (int c = 0; c < 128; ++c) {
          double dot = 0;
          for (int r = 0; r < 128; ++r) dot += S[r * 128 + c] * kn[r];
          const double u = beta * (in.v[vv + c] - decay * dot);
          double out = 0;
          for (int r = 0; r < 128; ++r) {
            S[r * 128 + c] = decay * S[r * 128 + c] + kn[r] * u;
            out += S[r * 128 + c] * qn[r];
          }
          o[vv + c] = scale * out;
        }
      }
      const std::size_t base = (static_cast<std::size_t>(n) * p.h_v + h) * 128 * 128;
      for (std::size_t i = 0; i < S.size(); ++i) ht[base + i] = S[i];
    }
  }
}

double rel_err(const std::vector<float>& got, const std::vector<double>& want, std::size_t count) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const double d = got[i] - want[i];
    num += d * d;
    den += want[i] * want[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

template <class T>
HostBytes host_bytes(const std::vector<T>& x) {
  return {x.data(), x.size() * sizeof(T)};
}

/// Device copies of the inputs and outputs of one problem (qla/gdn/device_problem.hpp).
struct TestProblem : DeviceProblem {
  explicit TestProblem(const Inputs& in)
      : DeviceProblem(in.p, host_bytes(in.qb), host_bytes(in.kb), host_bytes(in.vb),
                      host_bytes(in.g), host_bytes(in.beta), host_bytes(in.h0)) {}
  void poison() const { poison_outputs(); }
  std::vector<std::uint16_t> o_bits() const {
    std::vector<std::uint16_t> out(o.bytes() / 2);
    QLA_CUDA_CHECK(cudaMemcpy(out.data(), o.get(), o.bytes(), cudaMemcpyDeviceToHost));
    return out;
  }
  /// o as floats (bf16 decoded).
  std::vector<float> o_values() const {
    const auto bits = o_bits();
    std::vector<float> out(bits.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = from_bf16(bits[i]);
    return out;
  }
  std::vector<float> ht_values() const {
    std::vector<float> out(ht.bytes() / 4);
    QLA_CUDA_CHECK(cudaMemcpy(out.data(), ht.get(), ht.bytes(), cudaMemcpyDeviceToHost));
    return out;
  }
};

struct Case {
  const char* name;
  Problem p;
};

std::vector<Case> small_cases() {
  auto make = [](long long b, long long t, int hqk, int hv, bool h0,
                 std::vector<std::int64_t> cu = {}) {
    Problem p;
    p.batch = b;
    p.tokens = t;
    p.h_qk = hqk;
    p.h_v = hv;
    p.initial_state = h0;
    p.cu_seqlens = std::move(cu);
    return p;
  };
  return {
      {"T1", make(1, 1, 1, 1, false)},
      {"Cminus1_gva2_h0", make(2, 63, 2, 4, true)},
      {"C_gva2", make(1, 64, 1, 2, false)},
      {"Cplus1_h0", make(2, 65, 2, 2, true)},
      {"varlen_empty_1tok_padding_gva4", make(1, 210, 1, 4, true, {0, 1, 1, 70, 135, 200})},
      {"long_partial_gva1", make(1, 300, 4, 4, false)},
  };
}

Status run_forward(TestProblem& d, const Plan& plan) {
  DeviceBuffer ws(plan.workspace_bytes());
  Status s = forward(d.args, plan, ws.get(), nullptr);
  QLA_CUDA_CHECK(cudaDeviceSynchronize());
  return s;
}

void check_algorithm(Algorithm algo, const SpaceDecl* space) {
  const auto device = cuda::current_device();
  ASSERT_TRUE(device.has_value());
  std::vector<Point> points = space ? space->enumerate(&device->arch) : std::vector<Point>{{}};
  double worst_o = 0, worst_s = 0;
  int runs = 0;
  unsigned seed = 1;
  for (const auto& c : small_cases()) {
    const Inputs in = make_inputs(c.p, seed++);
    std::vector<double> o_ref, ht_ref;
    reference(in, o_ref, ht_ref);
    TestProblem d(in);
    for (const auto& point : points) {
      PlanOptions opt;
      opt.algorithm = algo;
      if (space) opt.configs[space->kernel] = point;
      const Plan plan = make_plan(c.p, *device, opt);
      const std::string what = std::string(c.name) + " " + (space ? space->label(point) : "");
      d.poison();
      const Status s = run_forward(d, plan);
      ASSERT_TRUE(s.ok()) << what << ": " << s.message;
      const auto o1 = d.o_bits();
      const auto ht1 = d.ht_values();
      d.poison();
      ASSERT_TRUE(run_forward(d, plan).ok());
      EXPECT_EQ(o1, d.o_bits()) << what << ": o differs between two runs";
      EXPECT_EQ(0, std::memcmp(ht1.data(), d.ht_values().data(), ht1.size() * 4))
          << what << ": ht differs";
      std::vector<float> o(o1.size());
      for (std::size_t i = 0; i < o.size(); ++i) o[i] = from_bf16(o1[i]);
      const std::size_t valid = static_cast<std::size_t>(c.p.valid_tokens() == c.p.total_tokens()
                                                             ? c.p.total_tokens()
                                                             : c.p.cu_seqlens.back()) *
                                c.p.h_v * 128;
      for (std::size_t i = valid; i < o.size(); ++i)
        ASSERT_EQ(o[i], 0.f) << what << ": padding row not zeroed";
      const double eo = rel_err(o, o_ref, valid);
      const double es = rel_err(ht1, ht_ref, ht_ref.size());
      EXPECT_LE(eo, 0.005) << what << " o";
      EXPECT_LE(es, 0.005) << what << " ht";
      worst_o = std::max(worst_o, eo);
      worst_s = std::max(worst_s, es);
      ++runs;
    }
  }
  std::printf("[%s] %d runs, worst rel. Frobenius error: o %.2e, ht %.2e\n", algorithm_name(algo),
              runs, worst_o, worst_s);
  test::ValidationRow row;
  row.suite = std::string("every config through the op, edge cases (") + algorithm_name(algo) + ")";
  row.family = space ? space->kernel : algorithm_name(algo);
  row.configs = std::to_string(points.size()) + (space ? " (all buildable)" : "");
  row.cases = static_cast<int>(small_cases().size());
  row.runs = runs;
  row.worst_o = worst_o;
  row.worst_final_state = worst_s;
  test::record_validation(row);
}

TEST(Forward, NaiveEveryConfig) {
  QLA_REQUIRE_GPU();
  check_algorithm(Algorithm::kNaive, &naive_fwd_space());
}

TEST(Forward, UnfusedDefault) {
  QLA_REQUIRE_GPU();
  check_algorithm(Algorithm::kUnfused, nullptr);
}

TEST(Forward, NaiveWithL2Norm) {
  QLA_REQUIRE_GPU();
  Problem p;
  p.batch = 2;
  p.tokens = 70;
  p.h_qk = 2;
  p.h_v = 4;
  p.l2norm_qk = true;
  Inputs in = make_inputs(p, 99);
  for (auto* x : {&in.q, &in.k})  // un-normalised inputs: the op must normalise them
    for (std::size_t i = 0; i < x->size(); ++i) {
      (*x)[i] *= 3.f;
      (x == &in.q ? in.qb : in.kb)[i] = to_bf16((*x)[i]);
      (*x)[i] = from_bf16((x == &in.q ? in.qb : in.kb)[i]);
    }
  std::vector<double> o_ref, ht_ref;
  reference(in, o_ref, ht_ref);
  TestProblem d(in);
  PlanOptions opt;
  opt.algorithm = Algorithm::kNaive;
  const Plan plan = make_plan(p, *cuda::current_device(), opt);
  d.poison();
  ASSERT_TRUE(run_forward(d, plan).ok());
  const std::vector<float> o = d.o_values();
  EXPECT_LE(rel_err(o, o_ref, o.size()), 0.005);
  EXPECT_LE(rel_err(d.ht_values(), ht_ref, ht_ref.size()), 0.005);
}

// The untuned fused op (the default algorithm) on one chunk: it runs and matches the float64
// recurrence, outputs poisoned first.
TEST(Forward, UntunedFusedOpMatchesTheReferenceOnOneChunk) {
  QLA_REQUIRE_GPU();
  Problem p;
  p.tokens = 64;
  p.h_qk = 1;
  p.h_v = 2;
  p.initial_state = true;
  const Inputs in = make_inputs(p, 3);
  std::vector<double> o_ref, ht_ref;
  reference(in, o_ref, ht_ref);
  const Plan plan = make_plan(p, *cuda::current_device(), {});
  ASSERT_EQ(plan.not_implemented_reason(), "");
  TestProblem d(in);
  d.poison();
  const Status s = run_forward(d, plan);
  ASSERT_TRUE(s.ok()) << s.message;
  const std::vector<float> o = d.o_values();
  EXPECT_LE(rel_err(o, o_ref, o.size()), 0.005);
  EXPECT_LE(rel_err(d.ht_values(), ht_ref, ht_ref.size()), 0.005);
}

// Bad arguments are refused before anything is launched, with a message naming the problem, for the
// naive path and for the untuned fused op (on sm_90a the wgmma kernel, whose TMA views are encoded
// per call): outputs stay poisoned.
TEST(Forward, BadInputIsRejectedBeforeAnyLaunch) {
  QLA_REQUIRE_GPU();
  Problem p;
  p.tokens = 64;
  p.h_qk = 1;
  p.h_v = 2;
  p.initial_state = true;
  const Inputs in = make_inputs(p, 5);
  TestProblem d(in);
  for (Algorithm algo : {Algorithm::kNaive, Algorithm::kFused}) {
    SCOPED_TRACE(algorithm_name(algo));
    PlanOptions opt;
    opt.algorithm = algo;
    const Plan plan = make_plan(p, *cuda::current_device(), opt);
    ASSERT_EQ(plan.not_implemented_reason(), "");
    DeviceBuffer ws(plan.workspace_bytes());
    auto expect_rejected = [&](ForwardArgs a, void* workspace, const char* what,
                               const char* needle) {
      d.poison();
      const Status s = forward(a, plan, workspace, nullptr);
      QLA_CUDA_CHECK(cudaDeviceSynchronize());
      EXPECT_EQ(s.code, Status::Code::kInvalidArgument) << what;
      EXPECT_NE(s.message.find(needle), std::string::npos) << what << ": " << s.message;
      for (auto b : d.o_bits()) ASSERT_EQ(b, 0xffff) << what << ": something was launched";
    };
    ForwardArgs a = d.args;
    a.q.data = static_cast<char*>(a.q.data) + 2;
    expect_rejected(a, ws.get(), "misaligned q", "aligned");
    a = d.args;
    a.k.stride_token = 129;  // rows not 16-byte multiples: no TMA view, no vector loads
    expect_rejected(a, ws.get(), "odd k stride", "stride");
    a = d.args;
    a.tokens = 65;
    expect_rejected(a, ws.get(), "more rows than the plan's class holds", "rows");
    a = d.args;
    a.cu_seqlens = d.v.as<const int>();  // any device pointer: rejected before it is read
    a.num_sequences = 2;
    expect_rejected(a, ws.get(), "more sequences than the plan's class holds", "sequences");
    a = d.args;
    a.h0 = nullptr;
    expect_rejected(a, ws.get(), "missing h0", "h0");
    a = d.args;
    a.v.data = nullptr;
    expect_rejected(a, ws.get(), "null v", "null");
    expect_rejected(d.args, nullptr, "no workspace", "workspace");
    // The arguments themselves are fine: the same call with a workspace runs.
    d.poison();
    EXPECT_TRUE(forward(d.args, plan, ws.get(), nullptr).ok());
    QLA_CUDA_CHECK(cudaDeviceSynchronize());
  }

  Problem k64 = p;
  k64.k_dim = 64;
  const Plan bad = make_plan(k64, *cuda::current_device(), {});
  EXPECT_NE(bad.not_implemented_reason().find("K = V = 128"), std::string::npos);
  EXPECT_EQ(forward(d.args, bad, nullptr, nullptr).code, Status::Code::kNotImplemented);
}

// ---- the small kernels, launched directly ----

// The device work lists equal the host builder's, list by list, for fixed-length and packed batches
// (empty and 1-token sequences, more sequences than the kernel's 1024 threads, long sequences),
// with and without a CP split, and for invalid offset lists.
TEST(WorkList, DeviceListsEqualTheHostBuilder) {
  QLA_REQUIRE_GPU();
  std::mt19937 rng(5);
  struct Batch {
    std::vector<int> cu;
    int n;
    long long tpr, rows;
  };
  std::vector<Batch> batches = {
      {{}, 3, 1000, 3000}, {{}, 1, 1, 1}, {{0, 5, 3}, 2, 9, 9}, {{0, 50, 200}, 2, 100, 100}};
  for (int i = 0; i < 40; ++i) {
    const int n = 1 + static_cast<int>(rng() % (i % 2 ? 3000 : 6));
    std::vector<int> cu{0};
    for (int j = 0; j < n; ++j) {
      const int kind = static_cast<int>(rng() % 4);
      cu.push_back(cu.back() + (kind == 0   ? 0
                                : kind == 1 ? 1
                                            : static_cast<int>(rng() % (i % 2 ? 200 : 40000))));
    }
    batches.push_back({cu, n, cu.back() + 37LL, cu.back() + 37LL});
  }
  const cuda::Kernel& kernel = cuda::KernelCache::global().get(work_list_spec());
  int checked = 0;
  for (const Batch& b : batches) {
    for (int l : {0, 4}) {
      const int c = 64;
      const WorkListCapacity cap = work_list_capacity(b.rows, b.n, c, l);
      const WorkList want = build_work_list(b.cu, b.n, b.tpr, b.rows, c, l, cap);
      auto ints = [](std::size_t n) { return DeviceBuffer(std::max<std::size_t>(n, 1) * 4); };
      const std::size_t n1 = static_cast<std::size_t>(b.n) + 1,
                        ch = 2 * static_cast<std::size_t>(cap.max_chunks),
                        pc = static_cast<std::size_t>(cap.max_pieces);
      DeviceBuffer cu_in = b.cu.empty() ? DeviceBuffer() : DeviceBuffer::from_host(b.cu);
      DeviceBuffer cu = ints(n1), index = ints(ch), offset = ints(n1), piece_cu = ints(pc + 1),
                   piece_index = ints(ch), piece_offset = ints(pc + 1), last = ints(pc),
                   ht = ints(pc), first = ints(n1), error = ints(1);
      WorkListParams prm{cu_in.as<const int>(),
                         b.n,
                         b.tpr,
                         b.rows,
                         c,
                         l,
                         cap.max_chunks,
                         cap.max_pieces,
                         cu.as<int>(),
                         index.as<int>(),
                         offset.as<int>(),
                         piece_cu.as<int>(),
                         piece_index.as<int>(),
                         piece_offset.as<int>(),
                         last.as<int>(),
                         ht.as<int>(),
                         first.as<int>(),
                         error.as<int>()};
      kernel.launch(work_list_shape(), &prm, nullptr);
      QLA_CUDA_CHECK(cudaDeviceSynchronize());
      auto got = [](const DeviceBuffer& x, std::size_t n) {
        std::vector<int> v = x.to_host<int>();
        v.resize(n);
        return v;
      };
      const std::string what = "N " + std::to_string(b.n) + " L " + std::to_string(l);
      EXPECT_EQ(got(error, 1)[0], want.error) << what;
      EXPECT_EQ(got(cu, n1), want.cu) << what;
      EXPECT_EQ(got(index, ch), want.chunk_index) << what;
      EXPECT_EQ(got(offset, n1), want.chunk_offset) << what;
      if (l > 0) {
        EXPECT_EQ(got(piece_cu, pc + 1), want.piece_cu) << what;
        EXPECT_EQ(got(piece_index, ch), want.piece_chunk_index) << what;
        EXPECT_EQ(got(piece_offset, pc + 1), want.piece_chunk_offset) << what;
        EXPECT_EQ(got(last, pc), want.piece_is_last) << what;
        EXPECT_EQ(got(ht, pc), want.ht_index) << what;
        EXPECT_EQ(got(first, n1), want.raw_first_piece) << what;
      }
      ++checked;
    }
  }
  std::printf("[work list] %d batches: device lists equal the host builder's\n", checked);
}

TEST(Cumsum, EveryChunkSizeBothDirectionsVarlenWithPadding) {
  QLA_REQUIRE_GPU();
  Problem p;
  p.tokens = 400;
  p.h_v = 40;  // two 32-head blocks, the second partial
  p.cu_seqlens = {0, 1, 1, 130, 257, 390};
  std::mt19937 rng(7);
  std::normal_distribution<float> n01;
  std::vector<float> g(static_cast<std::size_t>(p.tokens) * p.h_v);
  for (auto& x : g) x = n01(rng);
  DeviceBuffer gin = DeviceBuffer::from_host(g), gout(g.size() * 4);
  for (int c : {32, 64, 128}) {
    for (bool rev : {false, true}) {
      // Work list for chunk size c, with the padding entries that zero rows 390..399.
      std::vector<int> cu(p.cu_seqlens.begin(), p.cu_seqlens.end());
      const WorkList w =
          build_work_list(cu, 5, p.tokens, p.tokens, c, 0, work_list_capacity(p.tokens, 5, c, 0));
      DeviceBuffer dcu = DeviceBuffer::from_host(w.cu),
                   didx = DeviceBuffer::from_host(w.chunk_index);
      ChunkCumsumParams cp{};
      cp.g_in = contiguous_tensor(gin.get(), p, p.h_v, 1);
      cp.g_out = contiguous_tensor(gout.get(), p, p.h_v, 1);
      cp.seq = {dcu.as<const int>(),
                didx.as<const int>(),
                nullptr,
                5,
                static_cast<int>(w.chunk_index.size() / 2),
                400,
                400};
      cp.heads = p.h_v;
      QLA_CUDA_CHECK(cudaMemset(gout.get(), 0xff, gout.bytes()));
      const CumsumConfig cfg{c};
      cuda::KernelCache::global()
          .get(cumsum_spec(cfg, rev, DType::kF32))
          .launch(cumsum_shape(cfg, cp.seq.num_chunks, p.h_v), &cp, nullptr);
      std::vector<float> out(g.size());
      QLA_CUDA_CHECK(cudaMemcpy(out.data(), gout.get(), gout.bytes(), cudaMemcpyDeviceToHost));
      for (int n = 0; n < 5; ++n) {
        for (long long b = p.cu_seqlens[n]; b < p.cu_seqlens[n + 1]; b += c) {
          const long long e = std::min<long long>(b + c, p.cu_seqlens[n + 1]);
          for (int h = 0; h < p.h_v; ++h) {
            for (long long t = b; t < e; ++t) {
              double want = 0;
              for (long long s = rev ? t : b; s < (rev ? e : t + 1); ++s) want += g[s * p.h_v + h];
              ASSERT_NEAR(out[t * p.h_v + h], want, 1e-4)
                  << "C " << c << " rev " << rev << " t " << t;
            }
          }
        }
      }
      for (long long t = 390; t < 400; ++t)
        for (int h = 0; h < p.h_v; ++h) ASSERT_EQ(out[t * p.h_v + h], 0.f) << "padding not zeroed";
    }
  }
}

TEST(L2Norm, EveryConfigMatchesFp64) {
  QLA_REQUIRE_GPU();
  Problem p;
  p.batch = 3;
  p.tokens = 37;
  p.h_qk = 3;
  p.h_v = 3;
  const Inputs in = make_inputs(p, 11);
  std::vector<std::uint16_t> xb(in.qb.size());  // un-normalised copies of q
  for (std::size_t i = 0; i < in.qb.size(); ++i) xb[i] = to_bf16(from_bf16(in.qb[i]) * 5.f + 0.1f);
  DeviceBuffer x = DeviceBuffer::from_host(xb), y(xb.size() * 2), rstd(xb.size() / 128 * 4);
  for (const auto& point : l2norm_space().enumerate()) {
    const auto cfg = L2NormConfig::from_point(point);
    L2NormParams lp{contiguous_tensor(x.get(), p, p.h_qk, 128),
                    contiguous_tensor(y.get(), p, p.h_qk, 128),
                    rstd.as<float>(),
                    p.total_tokens(),
                    p.tokens,
                    p.h_qk,
                    1e-6f};
    QLA_CUDA_CHECK(cudaMemset(y.get(), 0xff, y.bytes()));
    cuda::KernelCache::global()
        .get(l2norm_spec(cfg, DType::kBF16))
        .launch(l2norm_shape(cfg, lp.rows, lp.heads), &lp, nullptr);
    std::vector<std::uint16_t> out(xb.size());
    QLA_CUDA_CHECK(cudaMemcpy(out.data(), y.get(), y.bytes(), cudaMemcpyDeviceToHost));
    for (std::size_t v = 0; v < xb.size(); v += 128) {
      double ss = 0;
      for (int d = 0; d < 128; ++d) ss += double(from_bf16(xb[v + d])) * from_bf16(xb[v + d]);
      for (int d = 0; d < 128; ++d) {
        const double want = from_bf16(xb[v + d]) / std::sqrt(ss + 1e-6);
        ASSERT_NEAR(from_bf16(out[v + d]), want, 1e-2 * std::abs(want) + 1e-6)
            << l2norm_space().label(point);
      }
    }
  }
}

// Every config of gdn.cp_correct on random ht, M and h0 (or none: zeros), poisoned output, against
// the serial recurrence in double: cp_h0[j] = h, h = ht[j] + (fb[j] ? M[j] h : 0), per raw sequence
// and head.
void check_correction_every_config(int heads, const std::vector<int>& raw_first,
                                   const std::vector<int>& fb, bool with_h0, unsigned seed) {
  const int raws = static_cast<int>(raw_first.size()) - 1;
  const int P = raw_first.back();
  ASSERT_EQ(fb.size(), static_cast<std::size_t>(P * heads));
  const std::size_t S = 128 * 128;
  std::mt19937 rng(seed);
  std::normal_distribution<float> n01;
  std::vector<float> h0(raws * heads * S), ht(P * heads * S), m(P * heads * S);
  for (auto* v : {&h0, &ht, &m})
    for (auto& x : *v) x = n01(rng) * (v == &m ? 0.05f : 1.f);
  DeviceBuffer dh0 = DeviceBuffer::from_host(h0), dht = DeviceBuffer::from_host(ht),
               dm = DeviceBuffer::from_host(m), draw = DeviceBuffer::from_host(raw_first),
               dfb = DeviceBuffer::from_host(fb), dout(P * heads * S * 4);
  // The reference, once for every config.
  std::vector<double> want(P * heads * S);
  for (int raw = 0; raw < raws; ++raw)
    for (int h = 0; h < heads; ++h) {
      std::vector<double> cur(S, 0.0);
      if (with_h0)
        std::copy(h0.begin() + (raw * heads + h) * S, h0.begin() + (raw * heads + h + 1) * S,
                  cur.begin());
      for (int j = raw_first[raw]; j < raw_first[raw + 1]; ++j) {
        const std::size_t base = (static_cast<std::size_t>(j) * heads + h) * S;
        std::copy(cur.begin(), cur.end(), want.begin() + base);
        std::vector<double> next(ht.begin() + base, ht.begin() + base + S);
        if (fb[j * heads + h])
          for (int r = 0; r < 128; ++r)
            for (int i = 0; i < 128; ++i)
              for (int c = 0; c < 128; ++c)
                next[r * 128 + c] += m[base + r * 128 + i] * cur[i * 128 + c];
        cur.swap(next);
      }
    }
  const cuda::DeviceInfo dev = *cuda::current_device();
  int runs = 0;
  for (const auto& point : cp_correct_space().enumerate()) {
    const auto cfg = CpCorrectConfig::from_point(point);
    if (!CpCorrectFamily::buildable(cfg, dev.arch)) continue;
    ++runs;
    CpCorrectParams cp{with_h0 ? dh0.as<const float>() : nullptr,
                       dht.as<const float>(),
                       dm.as<const float>(),
                       dfb.as<const int>(),
                       draw.as<const int>(),
                       dout.as<float>(),
                       heads,
                       {}};
    if (cfg.stage_m == 2)  // M by tensor copies
      cp.m_map =
          cuda::encode_tensor_map(cp_correct_m_map_desc(cp.m, static_cast<long long>(P) * heads));
    QLA_CUDA_CHECK(cudaMemset(dout.get(), 0xff, dout.bytes()));
    cuda::KernelCache::global()
        .get(cp_correct_spec(cfg))
        .launch(cp_correct_shape(cfg, heads, raws), &cp, nullptr);
    std::vector<float> out(P * heads * S);
    QLA_CUDA_CHECK(cudaMemcpy(out.data(), dout.get(), dout.bytes(), cudaMemcpyDeviceToHost));
    double worst = 0;
    for (std::size_t i = 0; i < out.size(); ++i)
      worst = std::max(worst, std::isfinite(out[i]) ? std::abs(out[i] - want[i]) : 1e30);
    EXPECT_LE(worst, 1e-3) << cp_correct_space().label(point);
  }
  EXPECT_GE(runs, 3) << "the register configs build everywhere";
}

TEST(Cp, WarmupCountsAndCorrectionMatchHostLoops) {
  QLA_REQUIRE_GPU();
  // Three pieces of 4 chunks (C = 64) of one raw sequence, plus a second raw sequence of one piece.
  const int heads = 3, C = 64, P = 4;
  const std::vector<int> pcu = {0, 256, 512, 700, 800};
  const std::vector<int> last = {0, 0, 1, 1};
  const std::vector<int> raw_first = {0, 3, 4};
  Problem p;
  p.tokens = 800;
  p.h_v = heads;
  std::vector<float> gcum(800 * heads);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u01(0.f, 1.f);
  for (int t = 0; t < 800; ++t)
    for (int h = 0; h < heads; ++h) {
      // head 0: no decay (fallback), head 1: -1 per chunk total, head 2: strong
      const float per_token = h == 0 ? 0.f : (h == 1 ? -1.f / 64 : -0.5f);
      const int local = (t - (t >= 700 ? 700 : (t / 64) * 64)) % 64;
      gcum[t * heads + h] = per_token * (local + 1) + 0.f * u01(rng);
    }
  DeviceBuffer dg = DeviceBuffer::from_host(gcum), dpcu = DeviceBuffer::from_host(pcu),
               dlast = DeviceBuffer::from_host(last), dn(P * heads * 4), dfb(P * heads * 4);
  CpWarmupParams wp{contiguous_tensor(dg.get(), p, heads, 1),
                    dpcu.as<const int>(),
                    dlast.as<const int>(),
                    dn.as<int>(),
                    dfb.as<int>(),
                    800,
                    P,
                    heads,
                    C,
                    -10.f};
  cuda::KernelCache::global().get(cp_warmup_spec()).launch(cp_warmup_shape(P, heads), &wp, nullptr);
  std::vector<int> n(P * heads), fb(P * heads);
  QLA_CUDA_CHECK(cudaMemcpy(n.data(), dn.get(), n.size() * 4, cudaMemcpyDeviceToHost));
  QLA_CUDA_CHECK(cudaMemcpy(fb.data(), dfb.get(), fb.size() * 4, cudaMemcpyDeviceToHost));
  // piece 0 and 1: 4 chunks; head 0 never decays → all chunks, fallback; head 1: -1/chunk → 4
  // chunks, fallback (sum -4 > -10); head 2: -32 per chunk → 1 chunk. Pieces 2, 3 are last → 0.
  const std::vector<int> want_n = {4, 4, 1, 4, 4, 1, 0, 0, 0, 0, 0, 0};
  const std::vector<int> want_fb = {1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(n, want_n);
  EXPECT_EQ(fb, want_fb);

  // Correction: random ht, M; the fallback flags from above.
  check_correction_every_config(heads, raw_first, fb, true, 3);
}

// The warm-up walk fetches a batch of 32 chunk totals per memory round trip: pieces of 1 to 130
// chunks (a partial last chunk too), heads that stop inside, at the edge of and after a batch, and
// heads that never stop, against the one-thread walk in float (same order, so equal counts).
TEST(Cp, WarmupCountsCrossBatchesOfChunks) {
  QLA_REQUIRE_GPU();
  const int heads = 6, C = 64;  // two warps of the second CTA row idle
  const std::vector<int> piece_tokens = {130 * C, 33 * C, C, 64 * C, 100, 40 * C};
  const std::vector<int> last = {0, 0, 0, 0, 0, 1};
  const int P = static_cast<int>(piece_tokens.size());
  std::vector<int> pcu = {0};
  for (int t : piece_tokens) pcu.push_back(pcu.back() + t);
  const int tokens = pcu.back();
  Problem p;
  p.tokens = tokens;
  p.h_v = heads;
  // Per head, the chunk total's range: head h stops after about 10 / mean chunks.
  const float mean_total[heads] = {0.f, 0.25f, 0.2f, 1.f, 4.f, 0.05f};
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u01(0.f, 1.f);
  std::vector<float> gcum(static_cast<std::size_t>(tokens) * heads);
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < heads; ++h) gcum[t * heads + h] = -2.f * mean_total[h] * u01(rng);
  DeviceBuffer dg = DeviceBuffer::from_host(gcum), dpcu = DeviceBuffer::from_host(pcu),
               dlast = DeviceBuffer::from_host(last), dn(P * heads * 4), dfb(P * heads * 4);
  QLA_CUDA_CHECK(cudaMemset(dn.get(), 0xff, dn.bytes()));
  QLA_CUDA_CHECK(cudaMemset(dfb.get(), 0xff, dfb.bytes()));
  const float threshold = -10.f;
  CpWarmupParams wp{contiguous_tensor(dg.get(), p, heads, 1),
                    dpcu.as<const int>(),
                    dlast.as<const int>(),
                    dn.as<int>(),
                    dfb.as<int>(),
                    tokens,
                    P,
                    heads,
                    C,
                    threshold};
  cuda::KernelCache::global().get(cp_warmup_spec()).launch(cp_warmup_shape(P, heads), &wp, nullptr);
  std::vector<int> n(P * heads), fb(P * heads);
  QLA_CUDA_CHECK(cudaMemcpy(n.data(), dn.get(), n.size() * 4, cudaMemcpyDeviceToHost));
  QLA_CUDA_CHECK(cudaMemcpy(fb.data(), dfb.get(), fb.size() * 4, cudaMemcpyDeviceToHost));
  std::vector<int> want_n(P * heads, 0), want_fb(P * heads, 0);
  std::set<int> counts;  // how far the walks went, to show the batch edges were crossed
  for (int j = 0; j < P; ++j)
    for (int h = 0; h < heads; ++h) {
      if (last[j]) continue;
      const int chunks = (piece_tokens[j] + C - 1) / C;
      float sum = 0.f;
      int& count = want_n[j * heads + h];
      want_fb[j * heads + h] = 1;
      for (int c = chunks - 1; c >= 0; --c) {
        const int at = c == chunks - 1 ? pcu[j + 1] - 1 : pcu[j] + (c + 1) * C - 1;
        sum += gcum[at * heads + h];
        ++count;
        if (sum < threshold) {
          want_fb[j * heads + h] = 0;
          break;
        }
      }
      counts.insert(count);
    }
  EXPECT_EQ(n, want_n);
  EXPECT_EQ(fb, want_fb);
  EXPECT_TRUE(counts.count(130) && counts.count(33) && counts.count(64))
      << "walks that end in the third batch, just past the first and at the second's end";
  EXPECT_TRUE(std::any_of(counts.begin(), counts.end(), [](int c) { return c > 32 && c < 64; }))
      << "a walk stops inside the second batch";
}

// Fallback patterns with every transition (0→1, 1→0, runs of both, a raw sequence that starts
// falling back and one that ends doing so), so a staged M is fetched during a step with and without
// a multiply and both staging buffers alternate and repeat.
TEST(Cp, CorrectionEveryConfigEveryFallbackTransition) {
  QLA_REQUIRE_GPU();
  const int heads = 2;
  // Three raw sequences: 7 pieces, none (an empty CTA chain), 3 pieces; no initial state.
  const std::vector<int> raw_first = {0, 7, 7, 10};
  const int per_head[2][10] = {{0, 1, 1, 0, 1, 0, 0, /**/ 1, 0, 1},
                               {1, 0, 0, 1, 1, 1, 0, /**/ 0, 1, 1}};
  std::vector<int> fb(10 * heads);  // [piece, head]
  for (int j = 0; j < 10; ++j)
    for (int h = 0; h < heads; ++h) fb[j * heads + h] = per_head[h][j];
  check_correction_every_config(heads, raw_first, fb, false, 11);
}

}  // namespace
}  // namespace qla::gdn
