// The CP state pass on the GPU, both implementations: gdn.state_pass (mma.sync) for every config
// and the wgmma chunk forward's state-only instantiation for every wgmma config, against float64
// (the recurrence over the last n chunks of each (sequence, head) from zero, or from h0 over all
// chunks; M = Π e^{g_t}(I − β_t k_t k_tᵀ) for heads that run all chunks, zeros otherwise); outputs
// poisoned before each run; a second run is bit-identical.
#include "qla/gdn/state_pass.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>

#include "fused_test_util.hpp"
#include "gpu_guard.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/fused_fwd_wgmma.hpp"
#include "qla/gdn/fused_fwd_wgmma_launch.hpp"
#include "qla/gdn/state_pass_wgmma.hpp"
#include "validation_record.hpp"

namespace qla::test {
namespace {

using gdn::StatePassConfig;

/// One case at chunk size C: the warm-up counts, the float64 final states and transitions, and
/// the device inputs.
struct StateCase {
  HostProblem p;
  std::vector<int> nw;
  std::vector<double> ht_ref, m_ref;
  std::unique_ptr<DeviceSeq> seq;
  cuda::DeviceBuffer k, v, a, g, b, nwd, h0, ht, m;

  StateCase(const Case& c, unsigned seed, int chunk) : p(make_problem(c, true, seed)) {
    const int hv = p.c.h_v;
    const std::size_t sz = kD * kD;
    // n per (sequence, head): cycles through 0..nchunks, so warm-up windows, full runs and n = 0
    // all occur.
    nw.resize(static_cast<std::size_t>(p.nseq) * hv);
    ht_ref.assign(nw.size() * sz, 0.0);
    m_ref.assign(nw.size() * sz, 0.0);
    for (int n = 0; n < p.nseq; ++n)
      for (int h = 0; h < hv; ++h) {
        const int nch = (p.cu[n + 1] - p.cu[n] + chunk - 1) / chunk;
        const int w = (n + h) % (nch + 1);
        nw[n * hv + h] = w;
        const bool full = w == nch;
        const long long t0 = full ? p.cu[n] : p.cu[n] + static_cast<long long>(nch - w) * chunk;
        std::vector<double> s(sz, 0.0);
        if (full && p.c.h0) std::copy_n(&p.h0[(n * hv + h) * sz], sz, s.begin());
        recur(p, h, t0, p.cu[n + 1], s, nullptr);
        std::copy(s.begin(), s.end(), &ht_ref[(n * hv + h) * sz]);
        if (full) {
          // Column j of M is the state column evolved without v (v = 0) from e_j.
          HostProblem zv = p;
          std::fill(zv.v.begin(), zv.v.end(), 0.0);
          std::vector<double> mm(sz, 0.0);
          for (int i = 0; i < kD; ++i) mm[i * kD + i] = 1.0;
          recur(zv, h, p.cu[n], p.cu[n + 1], mm, nullptr);
          std::copy(mm.begin(), mm.end(), &m_ref[(n * hv + h) * sz]);
        }
      }
    seq = std::make_unique<DeviceSeq>(p, chunk);
    const auto a64 = reference_a(p, chunk);
    std::vector<std::uint16_t> a16(a64.size());
    for (std::size_t i = 0; i < a64.size(); ++i)
      a16[i] = to_bits16(static_cast<float>(a64[i]), true);
    k = cuda::DeviceBuffer::from_host(p.k16);
    v = cuda::DeviceBuffer::from_host(p.v16);
    a = cuda::DeviceBuffer::from_host(a16);
    g = cuda::DeviceBuffer::from_host(chunk_cumsum(p, chunk));
    b = cuda::DeviceBuffer::from_host(p.beta32);
    nwd = cuda::DeviceBuffer::from_host(nw);
    if (p.c.h0) h0 = cuda::DeviceBuffer::from_host(p.h032);
    ht = cuda::DeviceBuffer(ht_ref.size() * 4);
    m = cuda::DeviceBuffer(m_ref.size() * 4);
  }

  /// The wgmma state pass's params over this case's inputs (C = 64; no counts, no M, no walk).
  gdn::FusedFwdWgmmaParams wgmma_params() {
    const int hv = p.c.h_v, hqk = p.c.h_qk;
    gdn::FusedFwdParams f{};
    f.q = token_tensor(k.get(), p, hqk, kD);  // not read: the state pass has no Q
    f.k = token_tensor(k.get(), p, hqk, kD);
    f.v = token_tensor(v.get(), p, hv, kD);
    f.a = token_tensor(a.get(), p, hv, 64);
    f.g = token_tensor(g.get(), p, hv, 1);
    f.beta = token_tensor(b.get(), p, hv, 1);
    f.h0 = p.c.h0 ? h0.as<float>() : nullptr;
    f.ht = ht.as<float>();
    f.seq = seq->view;
    f.heads_v = hv;
    f.group = hv / hqk;
    return gdn::make_fused_wgmma_params(f, p.c.batch, p.c.tokens, hqk);
  }

  /// Runs `launch(with_m)` twice per M mode on poisoned outputs; checks the bit-identical rerun and
  /// both outputs against float64. Returns the worst (ht, M) errors.
  std::pair<double, double> check(const std::function<void(bool)>& launch) {
    double cht = 0, cm = 0;
    for (bool with_m : {true, false}) {
      SCOPED_TRACE(with_m ? "M" : "noM");
      std::vector<float> got_ht(ht_ref.size()), got_m(m_ref.size()), first_ht;
      for (int rep = 0; rep < 2; ++rep) {
        QLA_CUDA_CHECK(cudaMemset(ht.get(), 0xFF, ht.bytes()));
        QLA_CUDA_CHECK(cudaMemset(m.get(), 0xFF, m.bytes()));
        launch(with_m);
        QLA_CUDA_CHECK(cudaDeviceSynchronize());
        QLA_CUDA_CHECK(cudaMemcpy(got_ht.data(), ht.get(), ht.bytes(), cudaMemcpyDeviceToHost));
        if (rep == 0) first_ht = got_ht;
      }
      EXPECT_EQ(std::memcmp(first_ht.data(), got_ht.data(), ht.bytes()), 0)
          << "repeated runs differ";
      const double eht = rel_fro(ht_ref, got_ht);
      EXPECT_LE(eht, 0.005);
      cht = std::max(cht, eht);
      if (with_m) {
        QLA_CUDA_CHECK(cudaMemcpy(got_m.data(), m.get(), m.bytes(), cudaMemcpyDeviceToHost));
        // Heads whose whole-sequence decay underflows fp32 (e.g. 64 tokens at g ≈ −21) have M ≈
        // 1e-300 in float64 and exactly 0 on the GPU: measure M relative to max(‖M_ref‖, 1), the
        // scale of the state it multiplies in the CP correction.
        double num = 0, den = 0;
        for (std::size_t i = 0; i < m_ref.size(); ++i) {
          num += (got_m[i] - m_ref[i]) * (got_m[i] - m_ref[i]);
          den += m_ref[i] * m_ref[i];
        }
        const double em = std::sqrt(num / std::max(den, 1.0));
        EXPECT_LE(em, 0.005);
        cm = std::max(cm, em);
      }
    }
    return {cht, cm};
  }
};

// The wgmma chunk forward's configs this GPU builds, their state-only kernels compiled ahead.
std::vector<Point> wgmma_state_pass_points() {
  const auto points = gdn::fused_fwd_wgmma_space().enumerate(&cuda::current_device()->arch);
  std::vector<cuda::KernelSpec> specs;
  for (const auto& pt : points)
    specs.push_back(gdn::state_pass_wgmma_spec(
        gdn::fused_fwd_config(gdn::FusedFwdWgmmaFamily::kId, pt), DType::kBF16, DType::kF32));
  for (const auto& f : precompile(specs)) ADD_FAILURE() << f;
  return points;
}

TEST(StatePass, EveryConfigMatchesReference) {
  QLA_REQUIRE_GPU();
  const auto dev = cuda::current_device();
  const auto& space = gdn::state_pass_space();
  const auto points = space.enumerate(&dev->arch);
  std::vector<cuda::KernelSpec> specs;
  for (const auto& pt : points)
    specs.push_back(
        gdn::state_pass_spec(StatePassConfig::from_point(pt), DType::kBF16, DType::kF32));
  for (const auto& f : precompile(specs)) ADD_FAILURE() << f;
  double worst_ht = 0, worst_m = 0;
  const auto cases = standard_cases();
  for (const auto& pt : points) {
    const auto c = StatePassConfig::from_point(pt);
    const auto& kernel =
        cuda::KernelCache::global().get(gdn::state_pass_spec(c, DType::kBF16, DType::kF32));
    double cht = 0, cm = 0;
    for (std::size_t ci = 0; ci < cases.size(); ++ci) {
      SCOPED_TRACE(space.label(pt) + " " + cases[ci].name);
      StateCase sc(cases[ci], 21 + static_cast<unsigned>(ci), c.chunk);
      const int hv = sc.p.c.h_v;
      gdn::StatePassParams prm{};
      prm.k = token_tensor(sc.k.get(), sc.p, sc.p.c.h_qk, kD);
      prm.v = token_tensor(sc.v.get(), sc.p, hv, kD);
      prm.a = token_tensor(sc.a.get(), sc.p, hv, c.chunk);
      prm.g = token_tensor(sc.g.get(), sc.p, hv, 1);
      prm.beta = token_tensor(sc.b.get(), sc.p, hv, 1);
      prm.num_warmup = sc.nwd.as<int>();
      prm.h0 = sc.p.c.h0 ? sc.h0.as<float>() : nullptr;
      prm.ht = sc.ht.as<float>();
      prm.seq = sc.seq->view;
      prm.heads_v = hv;
      prm.group = hv / sc.p.c.h_qk;
      ASSERT_EQ(gdn::check_params(prm), "");
      const auto [eht, em] = sc.check([&](bool with_m) {
        prm.m = with_m ? sc.m.as<float>() : nullptr;
        kernel.launch(gdn::state_pass_shape(c, sc.p.nseq, hv, with_m), &prm, nullptr);
      });
      cht = std::max(cht, eht);
      cm = std::max(cm, em);
    }
    std::printf("state_pass %-10s max rel err ht %.2e M %.2e\n", space.label(pt).c_str(), cht, cm);
    worst_ht = std::max(worst_ht, cht);
    worst_m = std::max(worst_m, cm);
  }
  std::printf("state_pass: %zu configs x %zu cases, worst ht %.2e, worst M %.2e\n", points.size(),
              cases.size(), worst_ht, worst_m);
  test::ValidationRow row;
  row.suite = "every config, edge cases (bf16), warm-up windows and full runs";
  row.family = "gdn.state_pass";
  row.configs = std::to_string(points.size()) + " (all buildable)";
  row.cases = static_cast<int>(cases.size());
  row.runs = static_cast<int>(points.size() * cases.size()) * 2;  // with and without M
  row.worst_final_state = worst_ht;
  row.other = {{"M", worst_m}};
  test::record_validation(row);
}

// The wgmma chunk forward's state-only instantiation (C = 64) under the same contract.
TEST(StatePass, WgmmaStateOnlyMatchesReference) {
  QLA_REQUIRE_GPU();
  const auto& space = gdn::fused_fwd_wgmma_space();
  const auto points = wgmma_state_pass_points();
  if (points.empty())
    GTEST_SKIP() << "no wgmma config builds on " << cuda::current_device()->arch.sm_name();
  double worst_ht = 0, worst_m = 0;
  const auto cases = standard_cases();
  for (const auto& pt : points) {
    const auto c = gdn::fused_fwd_config(gdn::FusedFwdWgmmaFamily::kId, pt);
    const auto& kernel =
        cuda::KernelCache::global().get(gdn::state_pass_wgmma_spec(c, DType::kBF16, DType::kF32));
    double cht = 0, cm = 0;
    for (std::size_t ci = 0; ci < cases.size(); ++ci) {
      SCOPED_TRACE(space.label(pt) + " " + cases[ci].name);
      StateCase sc(cases[ci], 21 + static_cast<unsigned>(ci), 64);
      const int hv = sc.p.c.h_v;
      gdn::FusedFwdWgmmaParams w = sc.wgmma_params();
      w.num_warmup = sc.nwd.as<int>();
      w.m = sc.m.as<float>();
      ASSERT_EQ(gdn::check_state_pass_wgmma(w, true), "");
      w.m = nullptr;
      EXPECT_NE(gdn::check_state_pass_wgmma(w, true), "") << "M without m is refused";
      const auto [eht, em] = sc.check([&](bool with_m) {
        w.m = with_m ? sc.m.as<float>() : nullptr;
        kernel.launch(gdn::state_pass_wgmma_shape(c, sc.p.nseq, hv, with_m), &w, nullptr);
      });
      cht = std::max(cht, eht);
      cm = std::max(cm, em);
    }
    std::printf("state_pass_wgmma %-16s max rel err ht %.2e M %.2e\n", space.label(pt).c_str(), cht,
                cm);
    worst_ht = std::max(worst_ht, cht);
    worst_m = std::max(worst_m, cm);
  }
  std::printf("state_pass_wgmma: %zu configs x %zu cases, worst ht %.2e, worst M %.2e\n",
              points.size(), cases.size(), worst_ht, worst_m);
  test::ValidationRow row;
  row.suite = "every wgmma config, edge cases (bf16), warm-up windows and full runs";
  row.family = "state pass on gdn.fused_fwd_wgmma";
  row.configs = std::to_string(points.size()) + " (all buildable)";
  row.cases = static_cast<int>(cases.size());
  row.runs = static_cast<int>(points.size() * cases.size()) * 2;
  row.worst_final_state = worst_ht;
  row.other = {{"M", worst_m}};
  test::record_validation(row);
}

// The CP path's wgmma state pass finds each (piece, head)'s warm-up window itself (the walk of
// cp_warmup_counts_kernel, run by every warp of the CTA) instead of reading counts a warm-up launch
// wrote: the counts and fallback flags it writes equal that kernel's, bit for bit, on poisoned
// outputs, and its final states and transitions equal those of the same pass given those counts.
TEST(StatePass, WgmmaStateOnlyWalksItsOwnWarmupWindows) {
  QLA_REQUIRE_GPU();
  const auto& space = gdn::fused_fwd_wgmma_space();
  const auto points = wgmma_state_pass_points();
  if (points.empty())
    GTEST_SKIP() << "no wgmma config builds on " << cuda::current_device()->arch.sm_name();
  const auto& walk = cuda::KernelCache::global().get(gdn::cp_warmup_spec());
  const auto cases = standard_cases();
  int fallbacks = 0, windows = 0, lasts = 0;
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    SCOPED_TRACE(cases[ci].name);
    StateCase sc(cases[ci], 41 + static_cast<unsigned>(ci), 64);
    const int hv = sc.p.c.h_v, n = sc.p.nseq;
    // The case's sequences stand for pieces; every third ends its raw sequence.
    std::vector<int> last(n);
    for (int j = 0; j < n; ++j) last[j] = j % 3 == 2 || j == n - 1;
    const std::size_t ph = static_cast<std::size_t>(n) * hv;
    cuda::DeviceBuffer dlast = cuda::DeviceBuffer::from_host(last);
    cuda::DeviceBuffer want_n(ph * 4), want_fb(ph * 4), got_n(ph * 4), got_fb(ph * 4);
    const float threshold = -3.f;  // the cases' gates reach it within a few chunks on some heads
    gdn::CpWarmupParams wp{token_tensor(sc.g.get(), sc.p, hv, 1),
                           sc.seq->view.cu_seqlens,
                           dlast.as<const int>(),
                           want_n.as<int>(),
                           want_fb.as<int>(),
                           sc.p.c.tokens,
                           n,
                           hv,
                           64,
                           threshold};
    walk.launch(gdn::cp_warmup_shape(n, hv), &wp, nullptr);
    QLA_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<int> wn(ph), wfb(ph);
    QLA_CUDA_CHECK(cudaMemcpy(wn.data(), want_n.get(), ph * 4, cudaMemcpyDeviceToHost));
    QLA_CUDA_CHECK(cudaMemcpy(wfb.data(), want_fb.get(), ph * 4, cudaMemcpyDeviceToHost));
    for (std::size_t i = 0; i < ph; ++i) {
      fallbacks += wfb[i] != 0;
      windows += wfb[i] == 0 && wn[i] > 0;
      lasts += last[i / hv] != 0;
    }
    for (const auto& pt : points) {
      SCOPED_TRACE(space.label(pt));
      const auto c = gdn::fused_fwd_config(gdn::FusedFwdWgmmaFamily::kId, pt);
      const auto& kernel =
          cuda::KernelCache::global().get(gdn::state_pass_wgmma_spec(c, DType::kBF16, DType::kF32));
      gdn::FusedFwdWgmmaParams w = sc.wgmma_params();
      w.m = sc.m.as<float>();
      const auto run = [&](std::vector<float>& ht, std::vector<float>& m) {
        QLA_CUDA_CHECK(cudaMemset(sc.ht.get(), 0xFF, sc.ht.bytes()));
        QLA_CUDA_CHECK(cudaMemset(sc.m.get(), 0xFF, sc.m.bytes()));
        kernel.launch(gdn::state_pass_wgmma_shape(c, n, hv, true), &w, nullptr);
        QLA_CUDA_CHECK(cudaDeviceSynchronize());
        ht.resize(sc.ht.bytes() / 4);
        m.resize(sc.m.bytes() / 4);
        QLA_CUDA_CHECK(cudaMemcpy(ht.data(), sc.ht.get(), sc.ht.bytes(), cudaMemcpyDeviceToHost));
        QLA_CUDA_CHECK(cudaMemcpy(m.data(), sc.m.get(), sc.m.bytes(), cudaMemcpyDeviceToHost));
      };
      std::vector<float> given_ht, given_m, walked_ht, walked_m;
      w.num_warmup = want_n.as<int>();  // the counts the warm-up launch wrote
      ASSERT_EQ(gdn::check_state_pass_wgmma(w, true), "");
      run(given_ht, given_m);
      QLA_CUDA_CHECK(cudaMemset(got_n.get(), 0xFF, got_n.bytes()));
      QLA_CUDA_CHECK(cudaMemset(got_fb.get(), 0xFF, got_fb.bytes()));
      w.num_warmup = got_n.as<int>();
      w.piece_is_last = dlast.as<const int>();
      w.threshold = threshold;
      EXPECT_NE(gdn::check_state_pass_wgmma(w, true), "") << "a walk without fallback is refused";
      w.fallback = got_fb.as<int>();
      ASSERT_EQ(gdn::check_state_pass_wgmma(w, true), "");
      run(walked_ht, walked_m);
      std::vector<int> gn(ph), gfb(ph);
      QLA_CUDA_CHECK(cudaMemcpy(gn.data(), got_n.get(), ph * 4, cudaMemcpyDeviceToHost));
      QLA_CUDA_CHECK(cudaMemcpy(gfb.data(), got_fb.get(), ph * 4, cudaMemcpyDeviceToHost));
      EXPECT_EQ(gn, wn) << "warm-up counts";
      EXPECT_EQ(gfb, wfb) << "fallback flags";
      EXPECT_EQ(std::memcmp(given_ht.data(), walked_ht.data(), sc.ht.bytes()), 0) << "ht";
      EXPECT_EQ(std::memcmp(given_m.data(), walked_m.data(), sc.m.bytes()), 0) << "M";
    }
  }
  EXPECT_GT(fallbacks, 0) << "some (piece, head) never reaches the threshold";
  EXPECT_GT(windows, 0) << "some stops inside its piece";
  EXPECT_GT(lasts, 0);
}

}  // namespace
}  // namespace qla::test
