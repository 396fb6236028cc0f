// Shared by the kkt_solve, fused_fwd and state_pass GPU tests: problem generation (FlashQLA's test
// inputs), 16-bit rounding, a float64 token recurrence and host-side chunk quantities (g cumsum,
// A_r), device upload of a problem, and parallel NVRTC pre-compilation of every config under test.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/cuda/device_info.hpp"
#include "qla/cuda/launcher.hpp"
#include "qla/cuda/nvrtc_compiler.hpp"
#include "qla/gdn/tensor_views.hpp"

namespace qla::test {

constexpr int kD = 128;

inline std::uint16_t to_bits16(float f, bool bf16) {
  if (!bf16) {
    const __half h = __float2half_rn(f);
    std::uint16_t u;
    std::memcpy(&u, &h, 2);
    return u;
  }
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even (inputs are finite)
  return static_cast<std::uint16_t>(u >> 16);
}
inline float from_bits16(std::uint16_t b, bool bf16) {
  if (!bf16) {
    __half_raw r;
    r.x = b;
    return __half2float(__half(r));
  }
  const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// A small test problem: fixed-length (cu empty) or packed varlen with padding after cu.back().
struct Case {
  std::string name;
  int batch;
  long long tokens;
  std::vector<int> cu;
  int h_qk, h_v;
  bool h0;
  /// Head 1's gate scale a (g = −a · softplus(x), x ~ N(1, 0.25)) where ≥ 0; else a ~ U(0, 16).
  double head1_gate = -1;
};

/// The standard edge cases for chunk sizes 32 and 64: T = 1, C−1, C, C+1, several chunks with a
/// partial last one, varlen with an empty and a 1-token sequence and 15 padding rows; GVA 1, 2, 4;
/// head 0 zero-gate, the last head strong decay; with and without h0; ten chunks with a weak-gate
/// head (≈ −0.13 a token: the state decays by ~2⁻¹² a chunk, so a kernel that holds it scaled by
/// the running decay renormalises every five or six chunks).
inline std::vector<Case> standard_cases() {
  return {{"b2_t1_gva2_h0", 2, 1, {}, 1, 2, true},
          {"b1_t63_gva1", 1, 63, {}, 2, 2, false},
          {"b1_t64_gva4_h0", 1, 64, {}, 1, 4, true},
          {"b2_t65_gva2_h0", 2, 65, {}, 2, 4, true},
          {"varlen_pad_gva4_h0", 1, 215, {0, 1, 1, 70, 200}, 1, 4, true},
          {"b1_t300_gva1", 1, 300, {}, 2, 2, false},
          {"b1_t640_weakgate_gva4_h0", 1, 640, {}, 1, 4, true, 0.1}};
}

/// Inputs in float64 (already rounded to the 16-bit dtype where the kernel reads 16-bit) and their
/// 16-bit bits.
struct HostProblem {
  Case c;
  bool bf16 = true;
  int nseq = 0;
  long long rows = 0;   ///< B*T
  std::vector<int> cu;  ///< N+1 flat offsets (fixed-length: multiples of T)
  std::vector<double> q, k, v, g, beta, h0;
  std::vector<std::uint16_t> q16, k16, v16;
  std::vector<float> beta32, h032;
};

inline HostProblem make_problem(const Case& c, bool bf16, unsigned seed = 42) {
  HostProblem p;
  p.c = c;
  p.bf16 = bf16;
  p.rows = c.batch * c.tokens;
  if (c.cu.empty()) {
    for (int b = 0; b <= c.batch; ++b) p.cu.push_back(static_cast<int>(b * c.tokens));
  } else {
    p.cu = c.cu;
  }
  p.nseq = static_cast<int>(p.cu.size()) - 1;
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  std::uniform_real_distribution<double> ud(0.0, 16.0);
  auto unit = [&](std::vector<double>& x, std::vector<std::uint16_t>& bits, int heads,
                  bool normalise) {
    x.assign(p.rows * heads * kD, 0.0);
    bits.assign(x.size(), 0);
    for (long long i = 0; i < p.rows * heads; ++i) {
      double n2 = 0;
      std::vector<double> t(kD);
      for (auto& e : t) {
        e = nd(rng);
        n2 += e * e;
      }
      const double s = normalise ? 1.0 / std::sqrt(n2 + 1e-6) : 1.0;
      for (int d = 0; d < kD; ++d) {
        bits[i * kD + d] = to_bits16(static_cast<float>(t[d] * s), bf16);
        x[i * kD + d] = from_bits16(bits[i * kD + d], bf16);
      }
    }
  };
  unit(p.q, p.q16, c.h_qk, true);
  unit(p.k, p.k16, c.h_qk, true);
  unit(p.v, p.v16, c.h_v, false);
  std::vector<double> a(c.h_v);
  for (int h = 0; h < c.h_v; ++h) a[h] = h == 0 ? 0.0 : (h == c.h_v - 1 ? 16.0 : ud(rng));
  if (c.head1_gate >= 0 && c.h_v > 2) a[1] = c.head1_gate;
  p.g.assign(p.rows * c.h_v, 0.0);
  p.beta.assign(p.rows * c.h_v, 0.0);
  p.beta32.assign(p.rows * c.h_v, 0.f);
  for (long long i = 0; i < p.rows; ++i)
    for (int h = 0; h < c.h_v; ++h) {
      const double x = 0.5 * nd(rng) + 1.0;
      p.g[i * c.h_v + h] = static_cast<float>(-a[h] * std::log1p(std::exp(x)));
      p.beta32[i * c.h_v + h] = static_cast<float>(1.0 / (1.0 + std::exp(-nd(rng))));
      p.beta[i * c.h_v + h] = p.beta32[i * c.h_v + h];
    }
  if (c.h0) {
    p.h032.resize(static_cast<std::size_t>(p.nseq) * c.h_v * kD * kD);
    p.h0.resize(p.h032.size());
    for (std::size_t i = 0; i < p.h032.size(); ++i)
      p.h0[i] = p.h032[i] = static_cast<float>(nd(rng));
  }
  return p;
}

/// Float64 token recurrence over tokens [t0, t1) of sequence n, head h, from `s` (K*V, updated in
/// place); writes o rows when `o` is non-null.
inline void recur(const HostProblem& p, int h, long long t0, long long t1, std::vector<double>& s,
                  std::vector<double>* o) {
  const int grp = p.c.h_v / p.c.h_qk;
  const double scale = 1.0 / std::sqrt(static_cast<double>(kD));
  std::vector<double> u(kD);
  for (long long t = t0; t < t1; ++t) {
    const double* k = &p.k[(t * p.c.h_qk + h / grp) * kD];
    const double* q = &p.q[(t * p.c.h_qk + h / grp) * kD];
    const double* v = &p.v[(t * p.c.h_v + h) * kD];
    const double e = std::exp(p.g[t * p.c.h_v + h]);
    const double b = p.beta[t * p.c.h_v + h];
    for (auto& x : s) x *= e;
    for (int j = 0; j < kD; ++j) {
      double acc = 0;
      for (int i = 0; i < kD; ++i) acc += s[i * kD + j] * k[i];
      u[j] = b * (v[j] - acc);
    }
    for (int i = 0; i < kD; ++i)
      for (int j = 0; j < kD; ++j) s[i * kD + j] += k[i] * u[j];
    if (o)
      for (int j = 0; j < kD; ++j) {
        double acc = 0;
        for (int i = 0; i < kD; ++i) acc += s[i * kD + j] * q[i];
        (*o)[(t * p.c.h_v + h) * kD + j] = scale * acc;
      }
  }
}

/// Reference o [rows, H_v, V] (0 on padding rows) and final states [N, H_v, K, V].
inline void reference_forward(const HostProblem& p, std::vector<double>& o,
                              std::vector<double>& ht) {
  o.assign(p.rows * p.c.h_v * kD, 0.0);
  ht.assign(static_cast<std::size_t>(p.nseq) * p.c.h_v * kD * kD, 0.0);
  std::vector<std::future<void>> jobs;
  for (int n = 0; n < p.nseq; ++n)
    for (int h = 0; h < p.c.h_v; ++h)
      jobs.push_back(std::async(std::launch::async, [&, n, h] {
        std::vector<double> s(kD * kD, 0.0);
        if (p.c.h0)
          std::copy_n(&p.h0[(static_cast<std::size_t>(n) * p.c.h_v + h) * kD * kD], kD * kD,
                      s.begin());
        recur(p, h, p.cu[n], p.cu[n + 1], s, &o);
        std::copy(s.begin(), s.end(), &ht[(static_cast<std::size_t>(n) * p.c.h_v + h) * kD * kD]);
      }));
  for (auto& j : jobs) j.get();
}

/// Chunk-local inclusive cumsum of g for chunk size C, fp32 [rows, H_v] (0 on padding rows).
inline std::vector<float> chunk_cumsum(const HostProblem& p, int chunk) {
  std::vector<float> out(p.rows * p.c.h_v, 0.f);
  for (int n = 0; n < p.nseq; ++n)
    for (int h = 0; h < p.c.h_v; ++h) {
      double acc = 0;
      for (long long t = p.cu[n]; t < p.cu[n + 1]; ++t) {
        if ((t - p.cu[n]) % chunk == 0) acc = 0;
        acc += p.g[t * p.c.h_v + h];
        out[t * p.c.h_v + h] = static_cast<float>(acc);
      }
    }
  return out;
}

/// Float64 A_r = (I + StrictLower(diag(β) K Kᵀ))⁻¹ per chunk, stored per token row [rows, H_v, C]
/// (0 elsewhere).
inline std::vector<double> reference_a(const HostProblem& p, int chunk) {
  std::vector<double> a(p.rows * p.c.h_v * chunk, 0.0);
  const int grp = p.c.h_v / p.c.h_qk;
  for (int n = 0; n < p.nseq; ++n)
    for (long long c0 = p.cu[n]; c0 < p.cu[n + 1]; c0 += chunk) {
      const int rows = static_cast<int>(std::min<long long>(chunk, p.cu[n + 1] - c0));
      for (int h = 0; h < p.c.h_v; ++h) {
        std::vector<double> l(rows * rows, 0.0), x(rows * rows, 0.0);
        for (int s = 0; s < rows; ++s)
          for (int t = 0; t < s; ++t) {
            double d = 0;
            for (int i = 0; i < kD; ++i)
              d += p.k[((c0 + s) * p.c.h_qk + h / grp) * kD + i] *
                   p.k[((c0 + t) * p.c.h_qk + h / grp) * kD + i];
            l[s * rows + t] = p.beta[(c0 + s) * p.c.h_v + h] * d;
          }
        for (int j = 0; j < rows; ++j)
          for (int s = j; s < rows; ++s) {
            double v = s == j ? 1.0 : 0.0;
            for (int r = j; r < s; ++r) v -= l[s * rows + r] * x[r * rows + j];
            x[s * rows + j] = v;
          }
        for (int s = 0; s < rows; ++s)
          for (int t = 0; t < rows; ++t) a[((c0 + s) * p.c.h_v + h) * chunk + t] = x[s * rows + t];
      }
    }
  return a;
}

/// ‖x − ref‖₂ / ‖ref‖₂ over the entries where `mask` (if given) is true.
template <class X>
double rel_fro(const std::vector<double>& ref, const X& x) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(x[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

/// Device copies of a problem's sequence view for chunk size C (chunk lists filled).
struct DeviceSeq {
  cuda::DeviceBuffer cu, chunk_index, chunk_offset;
  gdn::SequenceView view{};
  /// With `padding_entries`, the list ends with the work list's entries (−1, j) for the rows after
  /// the last sequence (cu_seqlens[N] + [j·C, (j+1)·C)), which kernels that own those rows zero.
  DeviceSeq(const HostProblem& p, int chunk, bool padding_entries = false) {
    std::vector<int> idx, off;
    for (int n = 0; n < p.nseq; ++n) {
      off.push_back(static_cast<int>(idx.size() / 2));
      const int nc = (p.cu[n + 1] - p.cu[n] + chunk - 1) / chunk;
      for (int i = 0; i < nc; ++i) idx.insert(idx.end(), {n, i});
    }
    off.push_back(static_cast<int>(idx.size() / 2));
    const int entries = off.back();
    if (padding_entries)
      for (long long j = 0; p.cu.back() + j * chunk < p.rows; ++j)
        idx.insert(idx.end(), {-1, static_cast<int>(j)});
    const int listed = static_cast<int>(idx.size() / 2);
    if (idx.empty()) idx = {0, 0};
    cu = cuda::DeviceBuffer::from_host(p.cu);
    chunk_index = cuda::DeviceBuffer::from_host(idx);
    chunk_offset = cuda::DeviceBuffer::from_host(off);
    view = {cu.as<int>(),
            chunk_index.as<int>(),
            chunk_offset.as<int>(),
            p.nseq,
            padding_entries ? listed : entries,
            p.c.tokens,
            p.rows};
  }
};

inline gdn::TokenTensor token_tensor(void* data, const HostProblem& p, int heads, int dim) {
  return {data, p.c.tokens * heads * dim, static_cast<long long>(heads) * dim, dim};
}

/// Compiles every spec with NVRTC on all host threads (fills the disk cache KernelCache reads), so
/// the test loop does not compile serially. Returns the specs that failed, with their messages.
inline std::vector<std::string> precompile(const std::vector<cuda::KernelSpec>& specs) {
  std::vector<std::string> failed;
  const auto dev = cuda::current_device();
  if (!dev) return failed;
  std::vector<std::future<std::string>> jobs;
  for (const auto& s : specs)
    jobs.push_back(std::async(std::launch::async, [s, arch = dev->arch]() -> std::string {
      try {
        cuda::compile_kernel(s, arch);
        return {};
      } catch (const std::exception& e) {
        return s.name_expression + ": " + e.what();
      }
    }));
  for (auto& j : jobs)
    if (auto m = j.get(); !m.empty()) failed.push_back(m);
  return failed;
}

}  // namespace qla::test
