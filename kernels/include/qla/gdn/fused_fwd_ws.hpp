// fused_fwd_ws: the warp-specialised variant of the chunk-forward role (gdn.fused_fwd_ws). A
// producer warpgroup drops to R registers (setmaxnreg) and fills an mbarrier-guarded stage ring;
// the consumer warps take the freed registers and compute the same chunk step as the mma.sync
// variant (fused_fwd_step.cuh). sm_90a only. Plain C++17, no CUDA includes. Device code:
// kernels/device/gdn/fused_fwd_ws.cuh.
#pragma once

#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/family.hpp"
#include "qla/gdn/fused_fwd.hpp"

namespace qla::gdn {

inline constexpr int kFusedFwdWsRegSplitValues[] = {40, 24};  ///< producer registers per thread

/// The declaration of gdn.fused_fwd_ws (qla/family.hpp): axes c, bv, s, w as gdn.fused_fwd and the
/// register split rs; the state stays in registers. Default c64.bv64.s2.w8.rs40.
struct FusedFwdWsFamily {
  using Config = FusedFwdConfig;
  static constexpr const char* kId = "gdn.fused_fwd_ws";
  static constexpr const char* kRole = kChunkFwdRole;
  static constexpr const char* kVariant = "ws";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("chunk", "c", &Config::chunk, kFusedFwdChunkValues, "tokens per chunk C"),
      axis("block_v", "bv", &Config::block_v, kFusedFwdBlockVValues, "V columns per CTA"),
      axis("stages", "s", &Config::stages, kFusedFwdStagesValues, "mbarrier stage ring depth"),
      axis("warps", "w", &Config::warps, kFusedFwdWarpsValues, "consumer warps per CTA"),
      axis("reg_split", "rs", &Config::reg_split, kFusedFwdWsRegSplitValues,
           "producer warpgroup registers per thread (setmaxnreg)"),
  };
  static constexpr Config kDefault = {64, 64, 2, 8, 0, 40};
  /// What the untuned op runs on sm_90a: the default at each BV of the V-split rule.
  static constexpr Config kAot[] = {
      {64, 64, 2, 8, 0, 40}, {64, 32, 2, 8, 0, 40}, {64, 128, 2, 8, 0, 40}};
  /// A target with setmaxnreg; shared memory within its opt-in limit.
  static bool buildable(const Config& c, const ArchInfo& arch);
  /// bf16 and fp16 q/k/v, fp32 β.
  static std::vector<cuda::KernelSpec> specs(const Config& c);
  /// Served by `qla header` (qla/cuda/kernel_catalog.hpp), 2th in the generated header.
  static constexpr int kDeployOrder = 2;
  static constexpr const char* kDeployHeader = "qla/gdn/fused_fwd_ws.hpp";
  static constexpr const char* kDeployTrait = "qla::gdn::FusedFwdWsFamily";
  /// The instantiation a tuned row of `p` needs (its dtypes).
  static std::vector<cuda::KernelSpec> deploy_specs(const Config& c, const Problem& p);
};

/// gdn.fused_fwd_ws's space (space_of<FusedFwdWsFamily>()).
inline const SpaceDecl& fused_fwd_ws_space() { return space_of<FusedFwdWsFamily>(); }

}  // namespace qla::gdn
