// state_pass_wgmma: the CP state pass on the wgmma chain (gdn.state_pass_wgmma), the cp_state_pass
// role's Hopper variant: gdn.fused_fwd_wgmma's kernel instantiated state-only (no Q, no O; the last
// n chunks of each piece; 64 columns of [S | M] per CTA; gdn/fused_fwd_wgmma.cuh describes it). Its
// config is a chunk-forward wgmma config (stages, operand type). sm_90a only. Plain C++17, no CUDA
// includes; its params are the chunk forward's (make_fused_wgmma_params) plus num_warmup and m.
#pragma once

#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/family.hpp"
#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/fused_fwd_wgmma.hpp"
#include "qla/gdn/fused_wgmma_params.hpp"

namespace qla::gdn {

/// The declaration of gdn.state_pass_wgmma (qla/family.hpp). Default c64.bv64.s3.f2.
struct StatePassWgmmaFamily {
  using Config = FusedFwdConfig;
  static constexpr const char* kId = "gdn.state_pass_wgmma";
  static constexpr const char* kRole = "cp_state_pass";
  static constexpr const char* kVariant = "wgmma";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("chunk", "c", &Config::chunk, kFusedWgmmaChunkValues, "tokens per chunk C"),
      axis("block_v", "bv", &Config::block_v, kStatePassWgmmaBlockVValues, "state columns per CTA"),
      axis("stages", "s", &Config::stages, kFusedWgmmaStagesValues, "TMA input ring depth"),
      axis("fp16_operands", "f", &Config::fp16_operands, kFusedWgmmaFp16Values,
           "fp16 GEMM operands: 1 every product (bf16 inputs converted in shared memory), 2 the "
           "product of intermediates only (V_d = W A_g), 0 none (the input dtype)"),
  };
  static constexpr Config kDefault = FusedFwdWgmmaFamily::kDefault;
  static constexpr Config kAot[] = {FusedFwdWgmmaFamily::kDefault};
  /// As gdn.fused_fwd_wgmma: wgmma and setmaxnreg, its shared memory within the opt-in limit.
  static bool buildable(const Config& c, const ArchInfo& arch);
  /// bf16 and fp16 q/k/v, fp32 β.
  static std::vector<cuda::KernelSpec> specs(const Config& c);
  /// Served by `qla header` (qla/cuda/kernel_catalog.hpp), 7th in the generated header.
  static constexpr int kDeployOrder = 7;
  static constexpr const char* kDeployHeader = "qla/gdn/state_pass_wgmma.hpp";
  static constexpr const char* kDeployTrait = "qla::gdn::StatePassWgmmaFamily";
  /// The instantiation a tuned row of `p` needs (its dtypes).
  static std::vector<cuda::KernelSpec> deploy_specs(const Config& c, const Problem& p);
};

/// gdn.state_pass_wgmma's space (space_of<StatePassWgmmaFamily>()).
inline const SpaceDecl& state_pass_wgmma_space() { return space_of<StatePassWgmmaFamily>(); }

/// fused_fwd_wgmma_kernel's state-only instantiation for `c` (stages, operand type), q/k/v dtype
/// `qkv`, β dtype `beta`.
cuda::KernelSpec state_pass_wgmma_spec(const FusedFwdConfig& c, DType qkv, DType beta);

/// (N · H_v, 2 slices of S, + 2 of M `with_m`) CTAs of 384 threads, the chunk forward's shared
/// memory.
cuda::LaunchShape state_pass_wgmma_shape(const FusedFwdConfig& c, int num_sequences, int heads_v,
                                         bool with_m);

/// Empty when the state-only params can run (k, v, A_r 16-byte rows, ht set, m set `with_m`, head
/// counts), else why not.
std::string check_state_pass_wgmma(const FusedFwdWgmmaParams& w, bool with_m);

}  // namespace qla::gdn
