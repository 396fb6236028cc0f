// fused_fwd on the GPU: every config of its space against a float64 token recurrence on the
// standard edge cases (fused_test_util.hpp), A_r and g_cum computed on the host; outputs poisoned
// with NaN before every run; a second run must be bit-identical. Also: CP-style index maps
// (h0_index / ht_index) and fp16 inputs.
#include "qla/gdn/fused_fwd.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "fused_test_util.hpp"
#include "gpu_guard.hpp"
#include "qla/gdn/fused_fwd_wgmma.hpp"
#include "qla/gdn/fused_fwd_wgmma_launch.hpp"
#include "qla/gdn/fused_fwd_ws.hpp"
#include "qla/gdn/kkt_solve.hpp"
#include "validation_record.hpp"

namespace qla::test {
namespace {

using gdn::FusedFwdConfig;

struct FusedRun {
  std::vector<std::uint16_t> o;
  std::vector<float> ht;
};

/// Uploads `p` for chunk size C and runs config `c` (twice when `repeat`), returns o and ht of the
/// last run.
FusedRun run_fused(const HostProblem& p, const FusedFwdConfig& c, bool repeat, bool* identical,
                   const std::vector<int>* h0_index = nullptr,
                   const std::vector<int>* ht_index = nullptr) {
  const int hv = p.c.h_v, hqk = p.c.h_qk;
  DeviceSeq seq(p, c.chunk);
  const auto a64 = reference_a(p, c.chunk);
  std::vector<std::uint16_t> a16(a64.size());
  for (std::size_t i = 0; i < a64.size(); ++i)
    a16[i] = to_bits16(static_cast<float>(a64[i]), p.bf16);
  auto q = cuda::DeviceBuffer::from_host(p.q16), k = cuda::DeviceBuffer::from_host(p.k16),
       v = cuda::DeviceBuffer::from_host(p.v16), a = cuda::DeviceBuffer::from_host(a16),
       g = cuda::DeviceBuffer::from_host(chunk_cumsum(p, c.chunk)),
       b = cuda::DeviceBuffer::from_host(p.beta32);
  cuda::DeviceBuffer h0, h0i, hti;
  if (p.c.h0) h0 = cuda::DeviceBuffer::from_host(p.h032);
  if (h0_index) h0i = cuda::DeviceBuffer::from_host(*h0_index);
  if (ht_index) hti = cuda::DeviceBuffer::from_host(*ht_index);
  cuda::DeviceBuffer o(p.rows * hv * kD * 2),
      ht(static_cast<std::size_t>(p.nseq) * hv * kD * kD * 4);
  gdn::FusedFwdParams prm{};
  prm.q = token_tensor(q.get(), p, hqk, kD);
  prm.k = token_tensor(k.get(), p, hqk, kD);
  prm.v = token_tensor(v.get(), p, hv, kD);
  prm.a = token_tensor(a.get(), p, hv, c.chunk);
  prm.g = token_tensor(g.get(), p, hv, 1);
  prm.beta = token_tensor(b.get(), p, hv, 1);
  prm.o = token_tensor(o.get(), p, hv, kD);
  prm.h0 = p.c.h0 ? h0.as<float>() : nullptr;
  prm.h0_index = h0_index ? h0i.as<int>() : nullptr;
  prm.ht = ht.as<float>();
  prm.ht_index = ht_index ? hti.as<int>() : nullptr;
  prm.seq = seq.view;
  prm.heads_v = hv;
  prm.group = hv / hqk;
  prm.scale = static_cast<float>(1.0 / std::sqrt(128.0));
  EXPECT_EQ(gdn::check_params(prm), "");
  const auto& kernel = cuda::KernelCache::global().get(
      gdn::fused_fwd_spec(c, p.bf16 ? DType::kBF16 : DType::kF16, DType::kF32));
  const auto shape = gdn::fused_fwd_shape(c, p.nseq, hv);
  gdn::FusedFwdWgmmaParams wprm{};
  if (c.wgmma != 0) wprm = gdn::make_fused_wgmma_params(prm, p.c.batch, p.c.tokens, hqk);
  FusedRun prev;
  FusedRun out;
  for (int rep = 0; rep < (repeat ? 2 : 1); ++rep) {
    QLA_CUDA_CHECK(cudaMemset(o.get(), 0xFF, o.bytes()));
    QLA_CUDA_CHECK(cudaMemset(ht.get(), 0xFF, ht.bytes()));
    if (c.wgmma != 0)
      kernel.launch(shape, &wprm, nullptr);
    else
      kernel.launch(shape, &prm, nullptr);
    QLA_CUDA_CHECK(cudaDeviceSynchronize());
    out.o.resize(o.bytes() / 2);
    out.ht.resize(ht.bytes() / 4);
    QLA_CUDA_CHECK(cudaMemcpy(out.o.data(), o.get(), o.bytes(), cudaMemcpyDeviceToHost));
    QLA_CUDA_CHECK(cudaMemcpy(out.ht.data(), ht.get(), ht.bytes(), cudaMemcpyDeviceToHost));
    if (rep == 1 && identical)
      *identical = prev.o == out.o && std::memcmp(prev.ht.data(), out.ht.data(), ht.bytes()) == 0;
    prev = out;
  }
  return out;
}

struct Errors {
  double o = 0, ht = 0;
  long long bad_padding = 0;
};

Errors compare(const HostProblem& p, const FusedRun& r, const std::vector<double>& o_ref,
               const std::vector<double>& ht_ref) {
  Errors e;
  std::vector<double> o(r.o.size());
  for (std::size_t i = 0; i < o.size(); ++i) o[i] = from_bits16(r.o[i], p.bf16);
  for (long long t = p.cu.back(); t < p.rows; ++t)
    for (int j = 0; j < p.c.h_v * kD; ++j) e.bad_padding += o[t * p.c.h_v * kD + j] != 0.0;
  e.o = rel_fro(o_ref, o);
  e.ht = rel_fro(ht_ref, r.ht);
  return e;
}

TEST(FusedFwd, EveryConfigMatchesReference) {
  QLA_REQUIRE_GPU();
  const auto dev = cuda::current_device();
  // Every config of every chunk-forward variant that builds here.
  std::vector<std::pair<const SpaceDecl*, Point>> points;
  for (const SpaceDecl* space :
       {&gdn::fused_fwd_space(), &gdn::fused_fwd_ws_space(), &gdn::fused_fwd_wgmma_space()})
    for (const Point& pt : space->enumerate(&dev->arch)) points.emplace_back(space, pt);
  std::vector<cuda::KernelSpec> specs;
  for (const auto& [space, pt] : points)
    specs.push_back(
        gdn::fused_fwd_spec(gdn::fused_fwd_config(space->kernel, pt), DType::kBF16, DType::kF32));
  for (const auto& f : precompile(specs)) ADD_FAILURE() << f;

  const auto cases = standard_cases();
  std::vector<HostProblem> probs;
  std::vector<std::vector<double>> o_ref(cases.size()), ht_ref(cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    probs.push_back(make_problem(cases[i], true, 42 + static_cast<unsigned>(i)));
    reference_forward(probs[i], o_ref[i], ht_ref[i]);
  }
  double worst_o = 0, worst_ht = 0;
  int runs = 0;
  // Per family: configs, runs and worst errors, for the validation record.
  struct FamilyWorst {
    int configs = 0, runs = 0;
    double o = 0, ht = 0;
  };
  std::map<std::string, FamilyWorst> families;
  for (const auto& [space, pt] : points) {
    const auto c = gdn::fused_fwd_config(space->kernel, pt);
    double co = 0, cht = 0;
    for (std::size_t i = 0; i < probs.size(); ++i) {
      SCOPED_TRACE(space->kernel + " " + space->label(pt) + " " + cases[i].name);
      bool identical = false;
      const auto r = run_fused(probs[i], c, true, &identical);
      const auto e = compare(probs[i], r, o_ref[i], ht_ref[i]);
      EXPECT_LE(e.o, 0.005);
      EXPECT_LE(e.ht, 0.005);
      EXPECT_EQ(e.bad_padding, 0);
      EXPECT_TRUE(identical);
      co = std::max(co, e.o);
      cht = std::max(cht, e.ht);
      ++runs;
    }
    std::printf("%-16s %-22s max rel err o %.2e ht %.2e\n", space->kernel.c_str(),
                space->label(pt).c_str(), co, cht);
    FamilyWorst& fw = families[space->kernel];
    ++fw.configs;
    fw.runs += static_cast<int>(probs.size());
    fw.o = std::max(fw.o, co);
    fw.ht = std::max(fw.ht, cht);
    worst_o = std::max(worst_o, co);
    worst_ht = std::max(worst_ht, cht);
  }
  std::printf("fused_fwd: %zu configs x %zu cases = %d runs, worst o %.2e, worst ht %.2e\n",
              points.size(), cases.size(), runs, worst_o, worst_ht);
  for (const auto& [family, fw] : families)
    test::record_validation("every config, edge cases (bf16)", family,
                            std::to_string(fw.configs) + " (all buildable)",
                            static_cast<int>(cases.size()), fw.runs, fw.o, fw.ht);
}

TEST(FusedFwd, Fp16Inputs) {
  QLA_REQUIRE_GPU();
  const auto dev = cuda::current_device();
  for (const auto& cs : standard_cases()) {
    const auto p = make_problem(cs, false, 7);
    std::vector<double> o_ref, ht_ref;
    reference_forward(p, o_ref, ht_ref);
    // The plain kernel, the warp-specialised one (no in-place conversion with fp16 inputs) and the
    // wgmma one (fp16 operands).
    for (const FusedFwdConfig& c : {FusedFwdConfig{}, FusedFwdConfig{32, 128, 2, 8, 0, 40},
                                    gdn::FusedFwdWgmmaFamily::kDefault}) {
      const SpaceDecl& space = *gdn::fused_fwd_family_space(gdn::fused_fwd_family_id(c));
      if (!space.is_buildable(c.to_point(), dev->arch)) continue;
      SCOPED_TRACE(cs.name + " " + space.kernel + " " + space.label(c.to_point()));
      const auto e = compare(p, run_fused(p, c, false, nullptr), o_ref, ht_ref);
      EXPECT_LE(e.o, 0.005);
      EXPECT_LE(e.ht, 0.005);
      EXPECT_EQ(e.bad_padding, 0);
    }
  }
}

TEST(FusedFwd, IndexMapsSelectStatesLikeCp) {
  QLA_REQUIRE_GPU();
  // Sequence n reads h0 row (n + 1) % N (row −1 → zero for the last) and writes ht only for even n,
  // to row n / 2.
  const auto p = make_problem({"varlen_maps", 1, 215, {0, 1, 1, 70, 200}, 1, 4, true}, true, 3);
  std::vector<int> h0i, hti;
  for (int n = 0; n < p.nseq; ++n) {
    h0i.push_back(n + 1 < p.nseq ? n + 1 : -1);
    hti.push_back(n % 2 == 0 ? n / 2 : -1);
  }
  HostProblem shifted = p;
  for (int n = 0; n < p.nseq; ++n)
    for (std::size_t i = 0; i < static_cast<std::size_t>(p.c.h_v) * kD * kD; ++i)
      shifted.h0[n * p.c.h_v * kD * kD + i] =
          h0i[n] < 0 ? 0.0 : p.h0[h0i[n] * p.c.h_v * kD * kD + i];
  std::vector<double> o_ref, ht_ref;
  reference_forward(shifted, o_ref, ht_ref);
  const auto r = run_fused(p, FusedFwdConfig{}, false, nullptr, &h0i, &hti);
  std::vector<double> o(r.o.size());
  for (std::size_t i = 0; i < o.size(); ++i) o[i] = from_bits16(r.o[i], true);
  EXPECT_LE(rel_fro(o_ref, o), 0.005);
  const std::size_t sz = static_cast<std::size_t>(p.c.h_v) * kD * kD;
  for (int n = 0; n < p.nseq; n += 2) {
    std::vector<double> want(ht_ref.begin() + n * sz, ht_ref.begin() + (n + 1) * sz);
    std::vector<float> got(r.ht.begin() + (n / 2) * sz, r.ht.begin() + (n / 2 + 1) * sz);
    EXPECT_LE(rel_fro(want, got), 0.005) << "sequence " << n;
  }
  // Rows never written keep the poison.
  EXPECT_TRUE(std::isnan(r.ht[((p.nseq + 1) / 2) * sz]));
}

}  // namespace
}  // namespace qla::test
