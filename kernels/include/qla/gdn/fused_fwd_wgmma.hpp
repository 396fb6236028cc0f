// fused_fwd_wgmma: the Hopper warpgroup-MMA variant of the chunk-forward role
// (gdn.fused_fwd_wgmma): the state held transposed as a wgmma accumulator, the serial chain as
// register-operand wgmma, TMA loads, an aux warpgroup one chunk ahead (gdn/fused_fwd_wgmma.cuh
// describes it). sm_90a only. Plain C++17, no CUDA includes; the tensor maps of its params are
// encoded on the host by make_fused_wgmma_params (fused_fwd_wgmma_launch.hpp).
#pragma once

#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/family.hpp"
#include "qla/gdn/fused_fwd.hpp"

namespace qla::gdn {

inline constexpr int kFusedWgmmaChunkValues[] = {64};  ///< C, tokens
/// BV: 64 one chain a CTA (fused_fwd_wgmma_kernel), 128 two chains (fused_fwd_wgmma_2c_kernel).
inline constexpr int kFusedWgmmaBlockVValues[] = {64, 128};
/// The CP state pass's BV: one chain (it has no two-chain form).
inline constexpr int kStatePassWgmmaBlockVValues[] = {64};
inline constexpr int kFusedWgmmaStagesValues[] = {2, 3};  ///< TMA input ring depth
/// FusedFwdConfig::fp16_operands, the most accurate first (o error against the float64 reference
/// on bf16 inputs ~1.8e-3, ~3e-3, ~4.3e-3): a tie the untuned point is not in goes to the lowest
/// flat index (remeasure_top), so to the more accurate of equally fast configs.
inline constexpr int kFusedWgmmaFp16Values[] = {kFp16OperandsAll, kFp16OperandsIntermediates,
                                                kFp16OperandsNone};

/// The declaration of gdn.fused_fwd_wgmma (qla/family.hpp). Default c64.bv64.s3.f2.
struct FusedFwdWgmmaFamily {
  using Config = FusedFwdConfig;
  static constexpr const char* kId = "gdn.fused_fwd_wgmma";
  static constexpr const char* kRole = kChunkFwdRole;
  static constexpr const char* kVariant = "wgmma";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("chunk", "c", &Config::chunk, kFusedWgmmaChunkValues, "tokens per chunk C"),
      axis("block_v", "bv", &Config::block_v, kFusedWgmmaBlockVValues, "V columns per CTA"),
      axis("stages", "s", &Config::stages, kFusedWgmmaStagesValues, "TMA input ring depth"),
      axis("fp16_operands", "f", &Config::fp16_operands, kFusedWgmmaFp16Values,
           "fp16 GEMM operands: 1 every product (bf16 inputs converted in shared memory), 2 the "
           "products of intermediates only (V_d = W A_g, O2 = V_d P_g), 0 none (the input dtype)"),
  };
  static constexpr Config kDefault = {64, 64, 3, 8, 0, 0, 1, kFp16OperandsIntermediates};
  /// The default, and the untuned op's two-chain point (the V-split rule's 128 columns at the
  /// two-stage ring that fits them).
  static constexpr Config kAot[] = {kDefault, {64, 128, 2, 8, 0, 0, 1, kFp16OperandsIntermediates}};
  /// A target with wgmma and setmaxnreg; shared memory within its opt-in limit (two chains: two
  /// stages); two chains take no fp16 conversion of the inputs (f1: no converter warps).
  static bool buildable(const Config& c, const ArchInfo& arch);
  /// bf16 and fp16 q/k/v, fp32 β.
  static std::vector<cuda::KernelSpec> specs(const Config& c);
  /// Served by `qla header` (qla/cuda/kernel_catalog.hpp), 3th in the generated header.
  static constexpr int kDeployOrder = 3;
  static constexpr const char* kDeployHeader = "qla/gdn/fused_fwd_wgmma.hpp";
  static constexpr const char* kDeployTrait = "qla::gdn::FusedFwdWgmmaFamily";
  /// The instantiation a tuned row of `p` needs (its dtypes).
  static std::vector<cuda::KernelSpec> deploy_specs(const Config& c, const Problem& p);
};

/// gdn.fused_fwd_wgmma's space (space_of<FusedFwdWgmmaFamily>()).
inline const SpaceDecl& fused_fwd_wgmma_space() { return space_of<FusedFwdWgmmaFamily>(); }

}  // namespace qla::gdn
