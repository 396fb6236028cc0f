// The kernel families' declarations, checked without a GPU: spaces, defaults, labels, what builds
// where, kernel specs and launch shapes, and what each family refuses to run.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "qla/error.hpp"
#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/fused_fwd_wgmma.hpp"
#include "qla/gdn/fused_fwd_ws.hpp"
#include "qla/gdn/kkt_solve.hpp"
#include "qla/gdn/state_pass_wgmma.hpp"
#include "qla/gdn/unfused.hpp"
#include "qla/space.hpp"

namespace qla::gdn {
namespace {

// Where M is formed over the K tile (1 or 2 warps), its rows overwrite K's only as
// kkt_solve_rows.cuh assumes: M at the tile's start, the warps' areas past both, and at C = 64 (the
// phased formation, a block row at a time from the last) block row i of M starts at or past the end
// of K's rows below 16i, which the later block rows read.
TEST(KktSolve, MOverTheKTileLeavesTheRowsStillToBeRead) {
  for (int warps : {1, 2, 4, 8}) {
    for (int chunk : {64, 32}) {
      const gdn::KktRowsLayout l = gdn::kkt_rows_layout(chunk, warps);
      const int m_bytes = chunk * l.m_pitch * 4;
      EXPECT_GE(l.warp_area, l.m_tile + m_bytes);
      EXPECT_GE(l.warp_area, l.k_tile + l.k_bytes);
      if (!gdn::kkt_rows_m_over_k(warps)) {
        EXPECT_GE(l.m_tile, l.k_tile + l.k_bytes) << "M apart from K with " << warps << " warps";
        continue;
      }
      EXPECT_EQ(l.m_tile, l.k_tile);
      const int k_pitch_bytes = l.k_bytes / chunk;
      if (chunk == 64)
        for (int i = 0; i < chunk / 16; ++i)
          EXPECT_GE(l.m_tile + 16 * i * l.m_pitch * 4, l.k_tile + 16 * i * k_pitch_bytes) << i;
      else  // C = 32 forms every row before writing any: M's pitch is shorter than K's
        EXPECT_LT(l.m_pitch * 4, k_pitch_bytes);
    }
  }
}

TEST(KktSolve, SpaceDeclaration) {
  const auto& s = gdn::kkt_solve_space();
  EXPECT_EQ(s.kernel, "gdn.kkt_solve");
  EXPECT_EQ(s.label(s.default_point), "c64.b16.w4.vh0.cs0");
  // Every point builds on Hopper but the doubling inversion (b32) with fewer than 4 warps: 2 chunk
  // sizes x 2 warp counts x vh x cs (the inversion block never exceeds the chunk, the tiles fit);
  // on a card with 48 KB of shared memory the C = 64 points do not.
  const ArchInfo h100 = ArchInfo::named("sm_90a");
  EXPECT_EQ(s.enumerate(&h100).size(), s.size() - 16);
  EXPECT_TRUE(s.is_buildable(KktSolveConfig{32, 32, 4}.to_point(), h100));
  EXPECT_TRUE(s.is_buildable(KktSolveConfig{64, 32, 8}.to_point(), h100));
  EXPECT_TRUE(s.is_buildable(KktSolveConfig{64, 16, 1}.to_point(), h100));
  EXPECT_TRUE(s.is_buildable(KktSolveConfig{32, 16, 2}.to_point(), h100));
  EXPECT_FALSE(s.is_buildable(KktSolveConfig{64, 32, 1}.to_point(), h100));
  EXPECT_FALSE(s.is_buildable(KktSolveConfig{32, 32, 2}.to_point(), h100));
  ArchInfo small = h100;
  small.smem_per_block_optin = 48 * 1024;
  EXPECT_FALSE(s.is_buildable(KktSolveConfig{64, 16, 4}.to_point(), small));
  // b16 inverts by block rows, a warp per value head (K, M and each warp's area); b32 by doubling
  // across the CTA (K, M, the inverse and the merges' scratch).
  EXPECT_EQ(gdn::kkt_solve_smem_bytes(KktSolveConfig{64, 16, 4}),
            static_cast<std::size_t>(gdn::kkt_rows_layout(64, 4).bytes));
  EXPECT_LT(gdn::kkt_solve_smem_bytes(KktSolveConfig{64, 16, 4}),
            gdn::kkt_solve_smem_bytes(KktSolveConfig{64, 16, 8}));
  // With 1 or 2 warps M lies over the K tile: a CTA of 1 warp needs ~21 KB at C = 64 (10 fit a
  // 228 KB SM), against ~41 KB for 4 warps.
  EXPECT_LT(gdn::kkt_solve_smem_bytes(KktSolveConfig{64, 16, 1}), 22u * 1024);
  EXPECT_LT(gdn::kkt_solve_smem_bytes(KktSolveConfig{64, 16, 2}),
            gdn::kkt_solve_smem_bytes(KktSolveConfig{64, 16, 4}) - 16u * 1024);
  EXPECT_EQ(gdn::kkt_solve_smem_bytes(KktSolveConfig{64, 32, 4}),
            static_cast<std::size_t>(gdn::kkt_solve_layout(64).bytes));
  gdn::Problem p;
  p.tokens = 64;
  p.qkv_dtype = DType::kF32;
  EXPECT_NE(gdn::can_implement(p, KktSolveConfig{}).find("bf16 or fp16"), std::string::npos);
}

TEST(FusedFwd, SpaceDeclarationOfBothVariants) {
  const ArchInfo h100 = ArchInfo::named("sm_90a");
  const ArchInfo a100{8, 0, 108, 166912, 65536, 40 << 20};
  const auto& s = gdn::fused_fwd_space();
  EXPECT_EQ(s.kernel, "gdn.fused_fwd");
  EXPECT_TRUE(s.contains(s.default_point));
  EXPECT_TRUE(s.is_buildable(s.default_point, h100));
  EXPECT_TRUE(s.is_buildable(s.default_point, a100));
  EXPECT_FALSE(s.is_buildable(FusedFwdConfig{64, 128, 3, 8, 1, 0}.to_point(), h100));  // > 227 KB
  EXPECT_EQ(s.label(s.default_point), "c64.bv64.s2.w8.sm0");
  EXPECT_EQ(s.enumerate(&h100).size(), 66u);
  // The warp-specialised variant: a producer warpgroup beside the compute warps, sm_90a only.
  const auto& w = gdn::fused_fwd_ws_space();
  EXPECT_EQ(w.kernel, "gdn.fused_fwd_ws");
  EXPECT_EQ(w.label(w.default_point), "c64.bv64.s2.w8.rs40");
  EXPECT_EQ(w.enumerate(&h100).size(), 68u);
  EXPECT_TRUE(w.enumerate(&a100).empty());
  const FusedFwdConfig ws{64, 128, 2, 8, 0, 40};
  EXPECT_EQ(ws.to_point(), (Point{64, 128, 2, 8, 40}));
  EXPECT_EQ(gdn::fused_fwd_family_id(ws), std::string("gdn.fused_fwd_ws"));
  EXPECT_EQ(gdn::fused_fwd_config("gdn.fused_fwd_ws", ws.to_point()).reg_split, 40);
  EXPECT_EQ(gdn::fused_fwd_config("gdn.fused_fwd", s.default_point).reg_split, 0);
  EXPECT_THROW(gdn::fused_fwd_config("gdn.fused_fwd", ws.to_point()), UserError);
  EXPECT_TRUE(w.is_buildable(ws.to_point(), h100));
  EXPECT_EQ(gdn::fused_fwd_spec(ws, DType::kBF16, DType::kF32).source, "gdn/fused_fwd_ws.cuh");
  EXPECT_EQ(gdn::fused_fwd_spec(ws, DType::kBF16, DType::kF32).name_expression,
            "qla::gdn::fused_fwd_ws_kernel<64, 128, 2, 8, 40, __nv_bfloat16, float>");
  EXPECT_EQ(gdn::fused_fwd_spec(FusedFwdConfig{}, DType::kBF16, DType::kF32).source,
            "gdn/fused_fwd.cuh");
  EXPECT_EQ(gdn::fused_fwd_shape(ws, 2, 8).block[0], 384u);
  EXPECT_EQ(gdn::fused_fwd_shape(FusedFwdConfig{64, 128, 2, 4, 0, 24}, 2, 8).block[0], 256u);
  EXPECT_EQ(gdn::fused_fwd_shape(ws, 2, 8).grid[0], 16u);
  EXPECT_EQ(gdn::fused_fwd_smem_bytes(ws),
            static_cast<std::size_t>(gdn::fused_fwd_ws_layout(64, 128, 2).bytes));
  // 8 consumer warps start at 168 registers (one CTA of 384 threads per SM); the producer's surplus
  // moves over.
  EXPECT_EQ(gdn::fused_ws_entry_regs(8), 168);
  EXPECT_EQ(gdn::fused_ws_consumer_regs(8, 40), 232);
  EXPECT_EQ(gdn::fused_ws_consumer_regs(8, 24), 240);
  EXPECT_EQ(gdn::fused_ws_consumer_regs(4, 40), 0);  // already at the cap
  for (int rs : gdn::kFusedFwdWsRegSplitValues) {
    const int consumers = gdn::fused_ws_consumer_regs(8, rs);
    EXPECT_LE(consumers * 256 + rs * 128, gdn::fused_ws_entry_regs(8) * 384) << "rs" << rs;
  }
  // The wgmma variant's operand types: the products of inputs, then the products of intermediates.
  FusedFwdConfig wg = gdn::FusedFwdWgmmaFamily::kDefault;
  EXPECT_EQ(wg.fp16_operands, gdn::kFp16OperandsIntermediates);
  EXPECT_EQ(gdn::fused_wgmma_operand_types(wg, DType::kBF16), "__nv_bfloat16, __half");
  EXPECT_EQ(gdn::fused_wgmma_operand_types(wg, DType::kF16), "__half, __half");
  EXPECT_EQ(gdn::fused_fwd_spec(wg, DType::kBF16, DType::kF32).name_expression,
            "qla::gdn::fused_fwd_wgmma_kernel<3, __nv_bfloat16, __nv_bfloat16, __half, float>");
  EXPECT_EQ(gdn::state_pass_wgmma_spec(wg, DType::kBF16, DType::kF32).name_expression,
            "qla::gdn::fused_fwd_wgmma_kernel<3, __nv_bfloat16, __nv_bfloat16, __half, float, "
            "qla::cuda::NoProbe, true>");
  wg.fp16_operands = gdn::kFp16OperandsAll;
  EXPECT_EQ(gdn::fused_wgmma_operand_types(wg, DType::kBF16), "__half, __half");
  wg.fp16_operands = gdn::kFp16OperandsNone;
  EXPECT_EQ(gdn::fused_wgmma_operand_types(wg, DType::kBF16), "__nv_bfloat16, __nv_bfloat16");
  EXPECT_EQ(gdn::fused_wgmma_operand_types(wg, DType::kF16), "__half, __half");
  wg.fp16_operands = 3;
  EXPECT_THROW(gdn::fused_wgmma_operand_types(wg, DType::kBF16), UserError);
  const auto& wgs = gdn::fused_fwd_wgmma_space();
  EXPECT_EQ(wgs.label(wgs.default_point), "c64.bv64.s3.f2");
  // bv64: s {2, 3} x f {1, 2, 0}; bv128 (two chains a CTA): s2 (three stages do not fit) x f {2, 0}
  // (no converter warps for f1).
  EXPECT_EQ(wgs.enumerate(&h100).size(), 8u);
  FusedFwdConfig two = wg;
  two.block_v = 128;
  two.stages = 2;
  two.fp16_operands = gdn::kFp16OperandsIntermediates;
  EXPECT_TRUE(gdn::FusedFwdWgmmaFamily::buildable(two, h100));
  EXPECT_EQ(gdn::fused_fwd_spec(two, DType::kBF16, DType::kF32).name_expression,
            "qla::gdn::fused_fwd_wgmma_2c_kernel<2, __nv_bfloat16, __half, float>");
  EXPECT_EQ(gdn::fused_fwd_shape(two, 1, 8).block[0], 512u);
  EXPECT_EQ(gdn::fused_fwd_shape(two, 1, 8).grid[0], 8u) << "one CTA a (sequence, head)";
  two.fp16_operands = gdn::kFp16OperandsNone;
  EXPECT_EQ(gdn::fused_fwd_spec(two, DType::kF16, DType::kF32).name_expression,
            "qla::gdn::fused_fwd_wgmma_2c_kernel<2, __half, __half, float>");
  two.stages = 3;
  EXPECT_FALSE(gdn::FusedFwdWgmmaFamily::buildable(two, h100)) << "three stages fit no sm_90 block";
  two.stages = 2;
  two.fp16_operands = gdn::kFp16OperandsAll;
  EXPECT_FALSE(gdn::FusedFwdWgmmaFamily::buildable(two, h100));
  EXPECT_TRUE(wgs.enumerate(&a100).empty());
  EXPECT_EQ(gdn::state_pass_wgmma_space().enumerate(&h100).size(), 6u);
  gdn::Problem p;
  p.tokens = 64;
  p.h_qk = 2;
  p.h_v = 8;
  EXPECT_EQ(gdn::can_implement(p, FusedFwdConfig{}), "");
  p.k_dim = 64;
  EXPECT_NE(gdn::can_implement(p, FusedFwdConfig{}).find("K = V = 128"), std::string::npos);
}

TEST(UnfusedSpace, EveryPointBuildableOnHopperAndSpecsNamed) {
  const ArchInfo hopper = ArchInfo::named("sm_90a");
  EXPECT_EQ(unfused_space().enumerate(&hopper).size(), unfused_space().size());
  EXPECT_TRUE(unfused_space().contains(unfused_space().default_point));
  const UnfusedConfig c = UnfusedConfig::from_point({64, 4, 128});
  EXPECT_EQ(c.label(), "hbv64.hw4.obv128");
  EXPECT_EQ(unfused_spec(UnfusedStage::kH, c, DType::kBF16).name_expression,
            "qla::gdn::unfused_h_kernel<__nv_bfloat16, 64, 4>");
  EXPECT_EQ(unfused_shape(UnfusedStage::kH, UnfusedConfig{32, 8, 64}, 10, 2, 8).block[0], 256u);
  EXPECT_EQ(unfused_spec(UnfusedStage::kCumsum, c, DType::kF16, DType::kBF16, DType::kF32)
                .name_expression,
            "qla::gdn::unfused_cumsum_kernel<__nv_bfloat16, float>");
  const auto shape = unfused_shape(UnfusedStage::kO, c, 10, 2, 8);
  EXPECT_EQ(shape.grid[0], 10u);
  EXPECT_EQ(shape.grid[2], 1u);
  EXPECT_GT(shape.dynamic_smem, 48u * 1024u);
  ArchInfo small = ArchInfo::named("sm_90a");
  small.smem_per_block_optin = 100 * 1024;
  EXPECT_FALSE(unfused_space().is_buildable({64, 4, 128}, small));
}

TEST(UnfusedChecks, RefusesWhatItCannotRun) {
  Problem p;
  p.tokens = 128;
  p.h_qk = 2;
  p.h_v = 4;
  const UnfusedConfig c;
  EXPECT_EQ(can_implement(p, c), "");
  Problem bad = p;
  bad.k_dim = 64;
  EXPECT_NE(can_implement(bad, c).find("K = V = 128"), std::string::npos);
  bad = p;
  bad.qkv_dtype = DType::kF32;
  EXPECT_NE(can_implement(bad, c).find("bf16 or f16"), std::string::npos);
  bad = p;
  bad.l2norm_qk = true;
  EXPECT_NE(can_implement(bad, c).find("l2"), std::string::npos);
  EXPECT_NE(can_implement(p, UnfusedConfig{48, 4, 64}).find("not in space"), std::string::npos);
  EXPECT_THROW(UnfusedConfig::from_point({32, 4, 96}), UserError);
  // 3 chunks of 64 (128 + 1 tokens split 64/64/1) x 4 heads x 36992 floats.
  Problem v = p;
  v.tokens = 129;
  v.cu_seqlens = {0, 128, 129};
  EXPECT_EQ(unfused_num_chunks(v), 3);
  EXPECT_EQ(unfused_workspace_bytes(v), 3u * 4u * 36992u * 4u);
}

}  // namespace
}  // namespace qla::gdn
