// The forward op's host-side rules (no GPU): FlashQLA's CP rule and piece length, qla's untuned
// points per architecture and problem, that the untuned op's kernels are built ahead of time for
// the H100/H200 target, the plan space, --config parsing.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "qla/cuda/aot_registry.hpp"
#include "qla/error.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/fused_fwd_wgmma.hpp"
#include "qla/gdn/fused_fwd_ws.hpp"
#include "qla/gdn/kkt_solve.hpp"
#include "qla/gdn/naive_fwd.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/ref/cp_reference.hpp"
#include "qla/space.hpp"

namespace qla::test {
namespace {

using gdn::PlanOptions;

/// One sequence per pair of neighbouring offsets of `cu`, with these heads.
gdn::Problem problem(std::vector<std::int64_t> cu, int h_qk, int h_v) {
  gdn::Problem p;
  p.tokens = cu.back();
  p.cu_seqlens = std::move(cu);
  p.h_qk = h_qk;
  p.h_v = h_v;
  return p;
}

// An H200: sm_90a, 132 SMs.
const ArchInfo kH200{9, 0, 132, 232448, 65536, 60 << 20};

TEST(FusedForwardRules, AutoCpPieceLengthAndBvMatchGdnTable) {
  // FlashQLA's rules for 132 SMs: (sequences of 64-token chunks, H_v) → CP, L, pieces, fused BV.
  struct Row {
    std::vector<std::int64_t> cu;
    int h_v;
    bool cp;
    int l, pieces, bv;
  };
  const Row rows[] = {
      {{0, 8192}, 8, true, 8, 16, 128},
      {{0, 8192}, 16, true, 16, 8, 128},
      {{0, 8192}, 64, false, 0, 1, 64},
      {{0, 32768}, 8, true, 16, 32, 128},
      {{0, 32768}, 16, true, 32, 16, 128},
      {{0, 32768}, 64, false, 0, 1, 64},
      {{0, 8192, 16384, 24576, 32768}, 8, true, 16, 32, 128},
      {{0, 8192, 16384, 24576, 32768}, 16, false, 0, 4, 64},
      {{0, 8192, 16384, 24576, 32768}, 24, false, 0, 4, 128},
  };
  for (const Row& r : rows) {
    gdn::Problem p;
    p.tokens = r.cu.back();
    p.cu_seqlens = r.cu;
    p.h_qk = 2;
    p.h_v = r.h_v;
    SCOPED_TRACE(p.label());
    EXPECT_EQ(gdn::cp_flashqla_rule(p, 64), r.cp);
    long long chunks = 0;
    for (std::size_t i = 0; i + 1 < r.cu.size(); ++i) chunks += (r.cu[i + 1] - r.cu[i] + 63) / 64;
    if (r.cp) {
      EXPECT_EQ(gdn::cp_piece_chunks_heuristic(p.h_v, chunks, 132), r.l);
      EXPECT_EQ(gdn::cp_piece_chunks_untuned(p.h_v, chunks, 132), 2 * r.l) << "qla's: twice it";
      EXPECT_EQ(gdn::cp_split(p, r.l, 64).pieces(), r.pieces);
    }
    EXPECT_EQ(gdn::fused_block_v_heuristic(static_cast<long long>(r.pieces) * p.h_v, 132), r.bv);
  }
  gdn::Problem batched;  // tensor batch > 1: never auto
  batched.batch = 2;
  batched.tokens = 8192;
  batched.h_v = 2;
  EXPECT_FALSE(gdn::cp_flashqla_rule(batched, 64));
}

// The wgmma variant's V-split by the makespan of its launch: 64 (one chain a CTA, two CTAs an SM)
// where the chains are few or uneven, 128 (two chains a CTA) where two waves of one-chain CTAs
// would share SMs. Every row is an H200 (132 SMs) shape whose tuned V-split is the one given.
TEST(FusedForwardRules, WgmmaBlockVRuleFinishesTheLaunchFirst) {
  struct Row {
    const char* shape;
    std::vector<std::int64_t> item_chunks;  // sequences or CP pieces, in launch order
    int h_v, bv, flashqla_bv;
  };
  const std::vector<std::int64_t> x8_1024(8, 16), x4_8192(4, 128), cp16_32768(16, 32);
  const Row rows[] = {
      {"16/64 1x32768: 128 one-chain CTAs, one each", {512}, 64, 64, 64},
      {"2/8 1x2048", {32}, 8, 64, 32},
      {"4/16 8192x4: 128 one-chain CTAs", x4_8192, 16, 64, 64},
      {"8/32 8192x4: 256 one-chain CTAs would share SMs", x4_8192, 32, 128, 128},
      {"16/64 8192x4", x4_8192, 64, 128, 128},
      {"16/16 1024x8: 128 two-chain CTAs, one wave", x8_1024, 16, 128, 128},
      {"32/32 1024x8", x8_1024, 32, 128, 128},
      {"8/24 1024x8: 192 two-chain CTAs are a second wave", x8_1024, 24, 64, 128},
      {"16/64 28672+4096: the long chain alone on its SM", {448, 64}, 64, 64, 128},
      {"16/48 28672+4096", {448, 64}, 48, 64, 128},
      {"2/8 1x32768, CP in 16 pieces of 32 chunks", cp16_32768, 8, 128, 128},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.shape);
    EXPECT_EQ(gdn::wgmma_block_v_rule(r.item_chunks, r.h_v, 132), r.bv);
    const auto items = static_cast<long long>(r.item_chunks.size()) * r.h_v;
    EXPECT_EQ(gdn::fused_block_v_heuristic(items, 132), r.flashqla_bv) << "FlashQLA's rule";
  }
  // Past 8 waves of two-chain CTAs, and with no SM count, two chains.
  EXPECT_EQ(gdn::wgmma_block_v_rule(std::vector<std::int64_t>(1057, 1), 1, 132), 128);
  EXPECT_EQ(gdn::wgmma_block_v_rule({512}, 64, 0), 128);
  // Launch order matters: the short sequence first gives its SMs' second slots to the long
  // chains, which then share them for the short one's chunks only.
  EXPECT_EQ(gdn::wgmma_block_v_rule({64, 448}, 64, 132), 64);
  EXPECT_EQ(gdn::wgmma_block_v_rule({}, 8, 132), 64) << "nothing to launch: the default";

  // The untuned points: the wgmma variant takes the makespan's width, the ws variant FlashQLA's.
  const ArchInfo h200 = kH200;
  const gdn::Problem uneven = problem({0, 28672, 32768}, 16, 64);
  EXPECT_EQ(gdn::fused_fwd_config("gdn.fused_fwd_wgmma",
                                  gdn::untuned_fused_point("gdn.fused_fwd_wgmma", uneven, h200))
                .block_v,
            64);
  EXPECT_EQ(gdn::fused_fwd_config("gdn.fused_fwd_ws",
                                  gdn::untuned_fused_point("gdn.fused_fwd_ws", uneven, h200))
                .block_v,
            128);
}

// The untuned correction stages M by tensor copies where TMA exists (one row a thread), else by
// cp.async with rows split four ways where the buffers fit, and falls back to the family's default
// (registers, one thread per row) where a block cannot opt in to them.
TEST(FusedForwardRules, UntunedCpCorrectStagesMWhereItBuilds) {
  const SpaceDecl& space = gdn::cp_correct_space();
  EXPECT_EQ(space.label(gdn::untuned_cp_correct_point(ArchInfo::named("sm_90a"))),
            "bv8.ms2.sk1.rt1");
  EXPECT_EQ(space.label(gdn::untuned_cp_correct_point(ArchInfo::named("sm_80"))),
            "bv8.ms1.sk4.rt1");
  for (const char* target : {"sm_86", "sm_89"})
    EXPECT_EQ(gdn::untuned_cp_correct_point(ArchInfo::named(target)), space.default_point)
        << target;
  EXPECT_EQ(space.label(space.default_point), "bv8.ms0.sk1.rt1");
}

// --config text (qla run, bench_gdn_fwd): KERNEL=LABEL names the space; a bare label is tried on
// the plan's space, then on every kernel family's; text that is no label of any is a user error
// and forces nothing.
TEST(FusedForwardRules, ForceConfigTakesKernelEqualsLabelOrABareLabel) {
  PlanOptions o;
  gdn::force_config(o, "gdn.cp_correct=bv16.ms1.sk2.rt1");
  ASSERT_EQ(o.configs.count("gdn.cp_correct"), 1u);
  EXPECT_EQ(gdn::cp_correct_space().label(o.configs.at("gdn.cp_correct")), "bv16.ms1.sk2.rt1");
  gdn::force_config(o, "gdn.naive_fwd=bv32.ks4");
  EXPECT_EQ(gdn::naive_fwd_space().label(o.configs.at("gdn.naive_fwd")), "bv32.ks4");
  const std::string plan = gdn::fwd_plan_space().label(gdn::fwd_plan_space().default_point);
  gdn::force_config(o, plan);  // a bare label only the plan's space has
  EXPECT_EQ(gdn::fwd_plan_space().label(o.configs.at("gdn.fwd_plan")), plan);
  const std::size_t forced = o.configs.size();
  for (const char* bad :
       {"gdn.cp_correct=bv16.ms1.sk2", "gdn.nope=bv16", "nonsense", "gdn.cp_correct="}) {
    EXPECT_THROW(gdn::force_config(o, bad), UserError) << bad;
  }
  EXPECT_EQ(o.configs.size(), forced) << "a refused text forced something";
}

TEST(FusedForwardRules, CpLaunchListsParseToMasks) {
  EXPECT_EQ(gdn::parse_cp_launches("none"), 0u);
  EXPECT_EQ(gdn::parse_cp_launches("all"), unsigned{gdn::kCpLaunchAll});
  EXPECT_EQ(gdn::parse_cp_launches("prep,warmup,state,correct,forward"),
            unsigned{gdn::kCpLaunchAll});
  EXPECT_EQ(gdn::parse_cp_launches("state"), unsigned{gdn::kCpLaunchStatePass});
  EXPECT_EQ(gdn::parse_cp_launches("forward,prep"),
            unsigned{gdn::kCpLaunchChunkForward | gdn::kCpLaunchPrep});
  EXPECT_EQ(PlanOptions{}.cp_programmatic_launches, 0u) << "the op's default chains no CP launch";
  for (const char* bad : {"", "kkt", "state,", "all,prep", "None", "prep,,state"})
    EXPECT_THROW(gdn::parse_cp_launches(bad), UserError) << '"' << bad << '"';
}

// The untuned CP rule on the H200's 20 headline shapes: on where the plans tuned over FlashQLA's
// forward matrix (2026-11-30) ran CP and won by it: 2/8 and 4/16 heads from 8192 tokens of one
// sequence, 32 value heads at 1x32768; off for 1x2048, for four sequences, for 32 value heads at
// 1x8192 and for 64 (where FlashQLA's rule turns it on for 16 and 32 value heads at 1x2048,
// 1.26x-1.73x slower). Off the headline set: 4 value heads split a 1x2048 sequence, one chunk never
// splits.
TEST(FusedForwardRules, UntunedCpRuleOnTheHeadlineShapes) {
  struct Row {
    int h_v;
    std::vector<std::int64_t> cu;
    bool untuned, flashqla;
  };
  const std::vector<std::int64_t> s2k{0, 2048}, s8k{0, 8192}, s32k{0, 32768},
      v4{0, 8192, 16384, 24576, 32768};
  const Row rows[] = {
      {8, s2k, false, true},    {8, s8k, true, true},    {8, v4, false, true},
      {8, s32k, true, true},    {16, s2k, false, true},  {16, s8k, true, true},
      {16, v4, false, false},   {16, s32k, true, true},  {32, s2k, false, true},
      {32, s8k, false, true},   {32, v4, false, false},  {32, s32k, true, true},
      {64, s2k, false, false},  {64, s8k, false, false}, {64, v4, false, false},
      {64, s32k, false, false}, {4, s2k, true, true},    {1, {0, 64}, false, true},
  };
  for (const Row& r : rows) {
    gdn::Problem p;
    p.tokens = r.cu.back();
    p.cu_seqlens = r.cu;
    p.h_qk = std::max(1, r.h_v / 4);
    p.h_v = r.h_v;
    SCOPED_TRACE(p.label());
    EXPECT_EQ(gdn::cp_untuned_rule(p, 64), r.untuned);
    EXPECT_EQ(gdn::cp_flashqla_rule(p, 64), r.flashqla);
  }
  gdn::Problem batched;  // tensor batch > 1: never
  batched.batch = 2;
  batched.tokens = 32768;
  batched.h_v = 2;
  EXPECT_FALSE(gdn::cp_untuned_rule(batched, 64));
}

// Off the headline set, the matrix's shapes where the tuned plans moved the rule: CP on at 16 value
// heads from 4096 tokens and for their two-sequence mixes, at 24 from 8192, at 32 for a 28672-token
// sequence beside a 4096 one; off at 24 for 4096 tokens and 1024+7168, at 32 for 12288+4096, and
// from 48 value heads. Counted in chunks of 64 tokens: the same at C = 32.
TEST(FusedForwardRules, UntunedCpRuleOnTheMatrixShapes) {
  struct Row {
    int h_v;
    std::int64_t first, second;  // sequence lengths; second 0: one sequence
    bool on;
  };
  const Row rows[] = {
      {16, 4096, 0, true},     {16, 28672, 4096, true}, {16, 6144, 2048, true},
      {16, 1024, 7168, true},  {24, 8192, 0, true},     {24, 4096, 0, false},
      {24, 1024, 7168, false}, {32, 28672, 4096, true}, {32, 12288, 4096, false},
      {48, 32768, 0, false},   {8, 2048, 0, false},     {8, 4096, 0, true},
  };
  for (const Row& r : rows) {
    gdn::Problem p;
    p.cu_seqlens = {0, r.first};
    if (r.second > 0) p.cu_seqlens.push_back(r.first + r.second);
    p.tokens = p.cu_seqlens.back();
    p.h_qk = std::max(1, r.h_v / 4);
    p.h_v = r.h_v;
    SCOPED_TRACE(p.label());
    EXPECT_EQ(gdn::cp_untuned_rule(p, 64), r.on);
    EXPECT_EQ(gdn::cp_untuned_rule(p, 32), r.on);
  }
}

TEST(FusedForwardRules, UntunedOpRunsTheWgmmaVariantWhereTheTargetHasIt) {
  gdn::Problem p;
  p.tokens = 32768;
  p.cu_seqlens = {0, 32768};
  p.h_qk = 2;
  p.h_v = 8;
  const ArchInfo h100{9, 0, 132, 232448, 65536, 50 << 20};  // an H100: sm_90a, 132 SMs
  const ArchInfo a100{8, 0, 108, 166912, 65536, 40 << 20};
  EXPECT_STREQ(gdn::untuned_chunk_fwd_family(h100), "gdn.fused_fwd_wgmma");
  EXPECT_STREQ(gdn::untuned_chunk_fwd_family(h100, 32), "gdn.fused_fwd_ws");  // wgmma: C = 64 only
  EXPECT_STREQ(gdn::untuned_chunk_fwd_family(a100), "gdn.fused_fwd");
  // The wgmma variant's bv128 (two chains a CTA) does not fit its default's three-stage ring: the
  // BV rule's 128 takes the two-stage ring, the rest of the default stays.
  const auto wgmma = gdn::fused_fwd_config(
      "gdn.fused_fwd_wgmma", gdn::untuned_fused_point("gdn.fused_fwd_wgmma", p, h100));
  EXPECT_EQ(wgmma.block_v, 128);
  EXPECT_EQ(wgmma.stages, 2);
  EXPECT_EQ(wgmma.fp16_operands, gdn::FusedFwdWgmmaFamily::kDefault.fp16_operands);
  EXPECT_TRUE(gdn::fused_fwd_wgmma_space().is_buildable(wgmma.to_point(), h100));
  // One sequence of 2/8 without CP: 8 CTAs a V-slice, the rule's 32 is not on the axis: the
  // default, three stages and all.
  gdn::Problem short_one = p;
  short_one.tokens = 2048;
  short_one.cu_seqlens = {0, 2048};
  const auto one = gdn::fused_fwd_config(
      "gdn.fused_fwd_wgmma", gdn::untuned_fused_point("gdn.fused_fwd_wgmma", short_one, h100));
  EXPECT_EQ(one.block_v, gdn::FusedFwdWgmmaFamily::kDefault.block_v);
  EXPECT_EQ(one.stages, gdn::FusedFwdWgmmaFamily::kDefault.stages);
  const auto on_h100 = gdn::fused_fwd_config("gdn.fused_fwd_ws",
                                             gdn::untuned_fused_point("gdn.fused_fwd_ws", p, h100));
  const auto on_a100 =
      gdn::fused_fwd_config("gdn.fused_fwd", gdn::untuned_fused_point("gdn.fused_fwd", p, a100));
  EXPECT_EQ(on_h100.reg_split, gdn::FusedFwdWsFamily::kDefault.reg_split);
  EXPECT_EQ(on_a100.reg_split, 0);
  // The BV rule still applies (CP on: 32 pieces x 8 heads fill the card → 128); on the A100 bv128
  // at two stages needs 181 KB of its 163 KB, and one stage overlaps no load: the default's bv64
  // stays.
  EXPECT_EQ(on_h100.block_v, 128);
  EXPECT_EQ(on_a100.block_v, 64);
  const gdn::FusedFwdConfig d{};
  EXPECT_EQ(on_h100.chunk, d.chunk);
  EXPECT_EQ(on_h100.stages, d.stages);
  EXPECT_EQ(on_h100.warps, d.warps);
  EXPECT_TRUE(gdn::fused_fwd_ws_space().is_buildable(on_h100.to_point(), h100));
  EXPECT_TRUE(gdn::fused_fwd_space().is_buildable(on_a100.to_point(), a100));
}

TEST(FusedForwardRules, TheUntunedFusedConfigIsBuiltAheadOfTimeForTheH100) {
  // An untuned plan must launch without NVRTC on the architecture the library is built for
  // (sm_90a): whatever the BV rule picks, the untuned chunk-forward point is among the AOT
  // instantiations (its family's kAot).
  const ArchInfo h100 = ArchInfo::named("sm_90a");
  for (int h_v : {8, 16, 32, 64})
    for (const std::vector<std::int64_t>& cu : {std::vector<std::int64_t>{0, 2048},
                                                {0, 8192},
                                                {0, 32768},
                                                {0, 8192, 16384, 24576, 32768}}) {
      gdn::Problem p;
      p.tokens = cu.back();
      p.cu_seqlens = cu;
      p.h_qk = 2;
      p.h_v = h_v;
      const std::string family = gdn::untuned_chunk_fwd_family(h100);
      const auto c = gdn::fused_fwd_config(family, gdn::untuned_fused_point(family, p, h100));
      for (DType t : {DType::kBF16, DType::kF16}) {
        const auto spec = gdn::fused_fwd_spec(c, t, DType::kF32);
        EXPECT_NE(cuda::find_aot_kernel(spec.source, spec.name_expression), nullptr)
            << p.label() << ": " << spec.name_expression;
      }
    }
}

TEST(FusedForwardRules, TheUntunedCorrectionIsBuiltAheadOfTimeForTheH100) {
  // The CP correction's untuned point on sm_90a is not the family's default, so it needs its own
  // AOT instantiation for an untuned plan to launch without NVRTC.
  const auto c =
      gdn::CpCorrectConfig::from_point(gdn::untuned_cp_correct_point(ArchInfo::named("sm_90a")));
  EXPECT_NE(c.stage_m, gdn::CpCorrectConfig{}.stage_m);
  const auto spec = gdn::cp_correct_spec(c);
  EXPECT_NE(cuda::find_aot_kernel(spec.source, spec.name_expression), nullptr)
      << spec.name_expression;
}

// The untuned kkt_solve has a warp a CTA for each value head of a GVA group of 1 or 2 (a warp
// inverts a value head, so 4 warps a CTA would keep 1 or 2 of 4 busy), 4 warps for larger groups;
// each of those points is built ahead of time for both dtypes at both chunk sizes.
TEST(FusedForwardRules, UntunedKktSolveHasAWarpAValueHeadOfSmallGroups) {
  gdn::Problem p;
  p.tokens = 2048;
  p.cu_seqlens = {0, 2048};
  for (auto [h_qk, h_v, warps] : {std::tuple{16, 16, 1},
                                  {32, 32, 1},
                                  {16, 32, 2},
                                  {8, 24, 4},
                                  {16, 48, 4},
                                  {2, 8, 4},
                                  {16, 64, 4}}) {
    p.h_qk = h_qk;
    p.h_v = h_v;
    gdn::KktSolveConfig c = gdn::KktSolveConfig::from_point(gdn::untuned_kkt_solve_point(p));
    EXPECT_EQ(c.warps, warps) << h_qk << "/" << h_v;
    for (int chunk : {64, 32}) {
      c.chunk = chunk;
      for (DType t : {DType::kBF16, DType::kF16}) {
        const auto spec = gdn::kkt_solve_spec(c, t, DType::kF32);
        EXPECT_NE(cuda::find_aot_kernel(spec.source, spec.name_expression), nullptr)
            << spec.name_expression;
      }
    }
  }
}

// The untuned kkt_solve also writes the gate's chunk-local cumsum (no cumsum launch) where the
// gate's dtype allows it, and that point is built ahead of time at both chunk sizes.
TEST(FusedForwardRules, UntunedKktSolveFusesTheCumsumForFp32AndBf16Gates) {
  const SpaceDecl& space = gdn::kkt_solve_space();
  gdn::Problem p;
  p.tokens = 2048;
  p.cu_seqlens = {0, 2048};
  p.h_qk = 2;
  p.h_v = 8;
  for (DType g : {DType::kF32, DType::kBF16}) {
    p.gate_dtype = g;
    EXPECT_EQ(space.label(gdn::untuned_kkt_solve_point(p)), "c64.b16.w4.vh0.cs1");
  }
  p.gate_dtype = DType::kF16;
  EXPECT_EQ(gdn::untuned_kkt_solve_point(p), space.default_point);
  p.gate_dtype = DType::kF32;
  for (int chunk : {64, 32}) {
    gdn::KktSolveConfig c = gdn::KktSolveConfig::from_point(gdn::untuned_kkt_solve_point(p));
    c.chunk = chunk;
    for (DType t : {DType::kBF16, DType::kF16}) {
      const auto spec = gdn::kkt_solve_spec(c, t, DType::kF32);
      EXPECT_NE(cuda::find_aot_kernel(spec.source, spec.name_expression), nullptr)
          << spec.name_expression;
    }
    EXPECT_EQ(gdn::can_implement(p, c), "") << chunk;
  }
}

TEST(FusedForwardRules, SplitMatchesReferenceSplit) {
  gdn::Problem p;
  p.tokens = 1200;
  p.cu_seqlens = {0,   0,    1,   256,
                  257, 1000, 1190};  // empty, 1 token, exactly 4 chunks, 1 token, long, padding
  p.h_qk = 1;
  p.h_v = 2;
  for (int chunk : {32, 64}) {
    for (int l : {1, 2, 4, 7}) {
      SCOPED_TRACE("C " + std::to_string(chunk) + " L " + std::to_string(l));
      const gdn::CpSplit s = gdn::cp_split(p, l, chunk);
      const auto ref = ref::cp_split(p, l, chunk);
      ASSERT_EQ(s.pieces(), static_cast<int>(ref.size()));
      for (int j = 0; j < s.pieces(); ++j) {
        EXPECT_EQ(s.cu[j], ref[j].begin);
        EXPECT_EQ(s.cu[j + 1] - s.cu[j], ref[j].length);
        EXPECT_EQ(s.raw[j], ref[j].raw_seq);
        EXPECT_EQ(s.is_last[j] != 0, ref[j].last);
        EXPECT_EQ(s.ht_index[j], ref[j].last ? ref[j].raw_seq : -1);
        EXPECT_EQ(s.raw_first_piece[s.raw[j]] == j, ref[j].first);
      }
      EXPECT_EQ(s.raw_first_piece.back(), s.pieces());
      EXPECT_EQ(s.cu.back(), 1190);
    }
  }
  EXPECT_THROW(gdn::cp_split(p, 0, 64), UserError);
}

// 8 to 64 value heads (a quarter as many query/key heads) over one 2048-, 8192- or 32768-token
// sequence or four of 8192: where the untuned CP rule turns on and where it does not.
std::vector<gdn::Problem> cp_grid() {
  const std::vector<std::int64_t> s2k{0, 2048}, s8k{0, 8192}, s32k{0, 32768},
      v4{0, 8192, 16384, 24576, 32768};
  std::vector<gdn::Problem> out;
  for (const int h_v : {8, 16, 32, 64})
    for (const auto* cu : {&s2k, &s8k, &s32k, &v4}) out.push_back(problem(*cu, h_v / 4, h_v));
  return out;
}

// Where the untuned op launches the CP kernels at all (the tuner does not search them elsewhere):
// wherever the untuned plan runs CP, and at some chunk size of the plan's space where the rule
// turns it on and its piece length cuts a sequence.
TEST(FusedForwardRules, UntunedOpRunsCpWhereTheRuleCutsASequence) {
  const ArchInfo& h200 = kH200;
  const std::vector<std::int64_t> s2k{0, 2048}, s32k{0, 32768};
  for (const gdn::Problem& p : cp_grid()) {
    SCOPED_TRACE(p.label());
    const auto other = gdn::other_cp_plan_point(p, h200);
    ASSERT_TRUE(other.has_value());
    if (gdn::FwdPlanConfig::from_point(*other).cp == 0) {  // the untuned plan runs CP
      EXPECT_TRUE(gdn::untuned_op_runs_cp(p, h200));
    }
    if (!gdn::cp_untuned_rule(p, 64) && !gdn::cp_untuned_rule(p, 32)) {
      EXPECT_FALSE(gdn::untuned_op_runs_cp(p, h200));
    }
  }
  EXPECT_TRUE(gdn::untuned_op_runs_cp(problem(s32k, 2, 8), h200));
  // 2/8 1x2048: off at both chunk sizes (the rule counts chunks of 64 tokens: 32 < 8·H_v).
  ASSERT_FALSE(gdn::cp_untuned_rule(problem(s2k, 2, 8), 64));
  ASSERT_FALSE(gdn::cp_untuned_rule(problem(s2k, 2, 8), 32));
  EXPECT_FALSE(gdn::untuned_op_runs_cp(problem(s2k, 2, 8), h200));
  // 64 value heads are over the rule's 40; one chunk cuts into nothing.
  EXPECT_FALSE(gdn::untuned_op_runs_cp(problem(s32k, 16, 64), h200));
  EXPECT_FALSE(gdn::untuned_op_runs_cp(problem({0, 64}, 2, 8), h200));
}

// The tuner's second plan trial: the other CP decision than the untuned rule's, with a piece length
// that really cuts a sequence (a CP plan that cuts nothing runs without CP, the untuned plan
// again).
TEST(FusedForwardRules, OtherCpPlanPointTurnsTheUntunedDecisionAround) {
  const ArchInfo& h200 = kH200;
  const auto& s = gdn::fwd_plan_space();
  const std::vector<std::int64_t> s2k{0, 2048}, s32k{0, 32768};
  for (const gdn::Problem& p : cp_grid()) {
    SCOPED_TRACE(p.label());
    const auto other = gdn::other_cp_plan_point(p, h200);
    ASSERT_TRUE(other.has_value());
    const auto c = gdn::FwdPlanConfig::from_point(*other);
    // Only the CP decision and the piece length move from the default.
    EXPECT_EQ(with_value(s, with_value(s, *other, "cp", 2), "piece_chunks", 0), s.default_point);
    if (gdn::cp_untuned_rule(p, 64)) {
      EXPECT_EQ(s.label(*other), "c64.cp0.pc0.th10.v0.sv0");
      continue;
    }
    EXPECT_EQ(c.cp, 1);
    long long chunks = 0;
    for (std::size_t i = 0; i + 1 < p.cu_seqlens.size(); ++i)
      chunks += (p.cu_seqlens[i + 1] - p.cu_seqlens[i] + 63) / 64;
    const int l =
        c.piece_chunks > 0 ? c.piece_chunks : gdn::cp_piece_chunks_untuned(p.h_v, chunks, 132);
    EXPECT_TRUE(gdn::cp_split(p, l, 64).splits()) << s.label(*other);
  }
  // 2/8 1x2048: the untuned length, 8 chunks (twice FlashQLA's 4), cuts it into 4 pieces.
  EXPECT_EQ(s.label(gdn::other_cp_plan_point(problem(s2k, 2, 8), h200).value()),
            "c64.cp1.pc0.th10.v0.sv0");
  // 16/64 1x2048: the untuned length, 32 chunks, would not cut 32 chunks; 16 does, in two.
  EXPECT_EQ(s.label(gdn::other_cp_plan_point(problem(s2k, 16, 64), h200).value()),
            "c64.cp1.pc16.th10.v0.sv0");
  // One chunk cuts into nothing at any length.
  EXPECT_FALSE(gdn::other_cp_plan_point(problem({0, 64}, 2, 8), h200).has_value());
  // The rule is on at 2/8 1x32768, but on a named target (no SM count) its length cuts nothing: the
  // untuned plan runs without CP, so the other decision is CP on.
  ASSERT_TRUE(gdn::cp_untuned_rule(problem(s32k, 2, 8), 64));
  EXPECT_EQ(
      s.label(gdn::other_cp_plan_point(problem(s32k, 2, 8), ArchInfo::named("sm_90a")).value()),
      "c64.cp1.pc128.th10.v0.sv0");
  // A named target (no SM count): a listed length, not the untuned one.
  EXPECT_EQ(
      s.label(gdn::other_cp_plan_point(problem(s32k, 16, 64), ArchInfo::named("sm_90a")).value()),
      "c64.cp1.pc128.th10.v0.sv0");
}

// One representative per op: the tuner times one plan per op, at its representative.
TEST(FusedForwardRules, CanonicalPlanPointsRunTheSameOp) {
  const ArchInfo& h200 = kH200;
  const auto& s = gdn::fwd_plan_space();
  const auto canon = [&](const gdn::Problem& p, const std::string& label) {
    return s.label(gdn::canonical_plan_point(p, s.parse(label).value(), h200));
  };
  // 8/32 1x8192: the untuned rule leaves CP off; its untuned length is 32 chunks.
  const gdn::Problem off = problem({0, 8192}, 8, 32);
  ASSERT_FALSE(gdn::cp_untuned_rule(off, 64));
  EXPECT_EQ(canon(off, "c64.cp2.pc0.th10.v0.sv0"), "c64.cp2.pc0.th10.v0.sv0");
  EXPECT_EQ(canon(off, "c64.cp0.pc8.th6.v3.sv1"), "c64.cp2.pc0.th10.v0.sv0")
      << "CP off: length, threshold and state pass do nothing; v3 is the untuned variant here";
  EXPECT_EQ(canon(off, "c64.cp2.pc8.th6.v0.sv0"), "c64.cp2.pc0.th10.v0.sv0") << "auto stays off";
  EXPECT_EQ(canon(off, "c64.cp1.pc32.th6.v0.sv2"), "c64.cp1.pc0.th6.v0.sv0")
      << "on at the untuned length; sv2 is the untuned state pass";
  EXPECT_EQ(canon(off, "c64.cp1.pc16.th10.v1.sv1"), "c64.cp1.pc16.th10.v1.sv1");
  EXPECT_EQ(canon(off, "c64.cp1.pc128.th10.v0.sv0"), "c64.cp2.pc0.th10.v0.sv0")
      << "128 chunks cut nothing of one 128-chunk sequence";
  EXPECT_EQ(canon(off, "c64.cp3.pc16.th10.v0.sv0"), "c64.cp1.pc16.th10.v0.sv0")
      << "FlashQLA's rule turns CP on here";
  // 2/8 1x32768: the untuned rule turns CP on at its length.
  const gdn::Problem on = problem({0, 32768}, 2, 8);
  ASSERT_TRUE(gdn::cp_untuned_rule(on, 64));
  EXPECT_EQ(canon(on, "c64.cp1.pc0.th8.v0.sv0"), "c64.cp2.pc0.th8.v0.sv0");
  EXPECT_EQ(canon(on, "c64.cp0.pc16.th8.v0.sv1"), "c64.cp0.pc0.th10.v0.sv0");
  // Every canonical point is its own, and the search keeps few of the 3360: at 8/32 1x8192, CP off
  // is one op per chunk size and chunk-forward variant.
  std::set<Point> kept;
  for (const Point& p : s.enumerate(&h200)) {
    const Point c = gdn::canonical_plan_point(off, p, h200);
    EXPECT_EQ(gdn::canonical_plan_point(off, c, h200), c) << s.label(p);
    kept.insert(c);
  }
  EXPECT_LT(kept.size(), s.enumerate(&h200).size() / 4);
  // Idempotent for CP on too, on an arch without wgmma and on a named target.
  const ArchInfo a100{8, 0, 108, 166912, 65536, 40 << 20};
  for (const ArchInfo* arch : {&h200, &a100})
    for (const gdn::Problem* p : {&on, &off})
      for (const Point& pt : s.enumerate(arch)) {
        const Point c = gdn::canonical_plan_point(*p, pt, *arch);
        ASSERT_TRUE(s.is_buildable(c, *arch)) << s.label(pt) << " -> " << s.label(c);
        ASSERT_EQ(gdn::canonical_plan_point(*p, c, *arch), c) << s.label(pt);
      }
  // The second trial of a plan search is canonical.
  for (const gdn::Problem* p : {&off, &on}) {
    const Point other = gdn::other_cp_plan_point(*p, h200).value();
    EXPECT_EQ(gdn::canonical_plan_point(*p, other, h200), other) << s.label(other);
  }
}

TEST(FusedForwardRules, PlanSpaceDeclaration) {
  const auto& s = gdn::fwd_plan_space();
  EXPECT_EQ(s.kernel, "gdn.fwd_plan");
  EXPECT_TRUE(s.runtime);
  EXPECT_EQ(s.label(s.default_point), "c64.cp2.pc0.th10.v0.sv0");
  EXPECT_TRUE(s.contains({32, 1, 8, 6, 2, 0}));
  EXPECT_FALSE(s.contains({64, 1, 3, 10, 0, 0}));
  EXPECT_FALSE(s.contains({128, 1, 8, 10, 0, 0}));
  EXPECT_TRUE(
      s.contains({64, 1, 8, 10, 3, 2}));  // variant 3: the wgmma kernel, sv 2 its state pass
  EXPECT_FALSE(s.contains({64, 1, 8, 10, 4, 0}));
  EXPECT_FALSE(s.contains({64, 1, 8, 10, 3, 3}));
  // qla run --config gdn.fwd_plan=c32.cp1.pc8.th6.v1.sv1
  EXPECT_EQ(s.parse("c32.cp1.pc8.th6.v1.sv1"), (Point{32, 1, 8, 6, 1, 1}));
  const auto c = gdn::FwdPlanConfig::from_point({32, 0, 16, 12, 2, 2});
  EXPECT_EQ(c.chunk, 32);
  EXPECT_EQ(c.cp, 0);
  EXPECT_EQ(c.piece_chunks, 16);
  EXPECT_EQ(c.threshold, 12);
  EXPECT_STREQ(gdn::kChunkFwdVariants[c.variant], "gdn.fused_fwd_ws");
  EXPECT_STREQ(gdn::kStatePassVariants[c.state_variant], "gdn.state_pass_wgmma");
  EXPECT_EQ(gdn::FwdPlanConfig::from_point({64, 3, 0, 10, 0, 0}).cp, 3);  // FlashQLA's rule
  EXPECT_THROW(gdn::FwdPlanConfig::from_point({64, 4, 0, 10, 0, 0}), UserError);
  // Axes by name: the plan's chunk and variant.
  EXPECT_EQ(value_of(s, {32, 0, 16, 12, 2, 1}, "variant"), 2);
  EXPECT_EQ(value_of(s, {32, 0, 16, 12, 2, 1}, "state_variant"), 1);
  EXPECT_EQ(with_value(s, s.default_point, "chunk", 32), (Point{32, 2, 0, 10, 0, 0}));
  EXPECT_THROW(value_of(s, s.default_point, "block_v"), UserError);
  EXPECT_THROW(with_value(s, s.default_point, "chunk", 48), UserError);
}

}  // namespace
}  // namespace qla::test
