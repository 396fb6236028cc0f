// fused_fwd: the FlashQLA-style fused forward: o and the final state from q, k, v, A_r, g_cum, β
// and the initial state, one CTA per (sequence or CP piece, value head, V-slice). The chunk-forward
// role's config, the mma.sync variant's declaration (gdn.fused_fwd), and the kernel specs and
// launch shapes both variants share. Plain C++17, no CUDA includes. Device code:
// kernels/device/gdn/fused_fwd.cuh; params: qla/gdn/fused_params.hpp. The warp-specialised variant:
// qla/gdn/fused_fwd_ws.hpp.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/family.hpp"
#include "qla/gdn/fused_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// The kernel config of the chunk-forward role: one struct for both of today's variants (the
/// mma.sync kernel, gdn.fused_fwd, and the warp-specialised one, gdn.fused_fwd_ws in
/// fused_fwd_ws.hpp), each family declaring the axes it tunes. A field no axis of a family covers
/// keeps that family's default.
/// The values of FusedFwdConfig::fp16_operands.
inline constexpr int kFp16OperandsNone = 0, kFp16OperandsAll = 1, kFp16OperandsIntermediates = 2;

struct FusedFwdConfig {
  int chunk = 64;    ///< C, tokens per chunk (kkt_solve and the g cumsum must use the same)
  int block_v = 64;  ///< BV, V columns per CTA (32, 64, 128): V / BV CTAs per (sequence, head)
  int stages = 2;    ///< input ring depth (1..3): loads of chunk c + stages − 1 overlap chunk c
  int warps = 8;     ///< warps per CTA (4 or 8); with a register split, the consumer warps
  int state_in_smem =
      0;  ///< 0: fp32 state slice in registers; 1: in shared memory (mma variant only)
  /// Register split: 0 = every warp loads and computes (fused_fwd_kernel, gdn.fused_fwd); R > 0 =
  /// warp-specialised (fused_fwd_ws_kernel, gdn.fused_fwd_ws): a producer warpgroup at R registers
  /// per thread loads, `warps` consumer warps compute with the registers it gave up
  /// (fused_ws_consumer_regs). sm_90a only.
  int reg_split = 0;
  /// 1: the wgmma variant (gdn.fused_fwd_wgmma in fused_fwd_wgmma.hpp; sm_90a).
  int wgmma = 0;
  /// wgmma variant, which GEMM operands are fp16 (fp16 inputs are fp16 either way):
  /// kFp16OperandsAll (bf16 inputs converted in shared memory), kFp16OperandsNone (the input
  /// dtype), kFp16OperandsIntermediates (the products of in-kernel intermediates only: V_d = W A_g
  /// and O₂ = V_d P_g; the products that read an input tile keep its dtype, nothing is converted).
  int fp16_operands = kFp16OperandsIntermediates;

  Point to_point() const;  ///< the point of the family this config belongs to (fused_fwd_family_id)
};

inline constexpr int kFusedFwdChunkValues[] = {64, 32};        ///< C, tokens
inline constexpr int kFusedFwdBlockVValues[] = {32, 64, 128};  ///< BV, V columns per CTA
inline constexpr int kFusedFwdStagesValues[] = {1, 2, 3};      ///< input ring depth
inline constexpr int kFusedFwdWarpsValues[] = {4, 8};          ///< warps per CTA
inline constexpr int kFusedFwdStateInSmemValues[] = {0, 1};    ///< 0: registers, 1: shared memory

/// The op role both fused-forward variants fill.
inline constexpr const char* kChunkFwdRole = "chunk_fwd";

/// The declaration of gdn.fused_fwd, the mma.sync variant of the chunk-forward role
/// (qla/family.hpp): every warp loads (cp.async ring) and computes. Default c64.bv64.s2.w8.sm0.
/// Portable to sm_80+.
struct FusedFwdFamily {
  using Config = FusedFwdConfig;
  static constexpr const char* kId = "gdn.fused_fwd";
  static constexpr const char* kRole = kChunkFwdRole;
  static constexpr const char* kVariant = "mma";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("chunk", "c", &Config::chunk, kFusedFwdChunkValues, "tokens per chunk C"),
      axis("block_v", "bv", &Config::block_v, kFusedFwdBlockVValues, "V columns per CTA"),
      axis("stages", "s", &Config::stages, kFusedFwdStagesValues, "cp.async input ring depth"),
      axis("warps", "w", &Config::warps, kFusedFwdWarpsValues, "warps per CTA"),
      axis("state_in_smem", "sm", &Config::state_in_smem, kFusedFwdStateInSmemValues,
           "fp32 state slice in registers (0) or shared memory (1)"),
  };
  static constexpr Config kAot[] = {Config{}};
  /// Shared memory within the arch's opt-in limit.
  static bool buildable(const Config& c, const ArchInfo& arch);
  /// bf16 and fp16 q/k/v, fp32 β.
  static std::vector<cuda::KernelSpec> specs(const Config& c);
  /// Served by `qla header` (qla/cuda/kernel_catalog.hpp), 1th in the generated header.
  static constexpr int kDeployOrder = 1;
  static constexpr const char* kDeployHeader = "qla/gdn/fused_fwd.hpp";
  static constexpr const char* kDeployTrait = "qla::gdn::FusedFwdFamily";
  /// The instantiation a tuned row of `p` needs (its dtypes).
  static std::vector<cuda::KernelSpec> deploy_specs(const Config& c, const Problem& p);
};

/// gdn.fused_fwd's space (space_of<FusedFwdFamily>()).
inline const SpaceDecl& fused_fwd_space() { return space_of<FusedFwdFamily>(); }

/// "gdn.fused_fwd_wgmma" for a wgmma config, "gdn.fused_fwd_ws" for one with a register split, else
/// "gdn.fused_fwd".
const char* fused_fwd_family_id(const FusedFwdConfig& c);

/// The config of a point of any chunk-forward family (`kernel` its id); UserError when `p` is
/// not a point of that family.
FusedFwdConfig fused_fwd_config(const std::string& kernel, const Point& p);

/// The space of any chunk-forward family by id; nullptr for another id.
const SpaceDecl* fused_fwd_family_space(const std::string& kernel);

/// Dynamic shared memory of a config, bytes.
std::size_t fused_fwd_smem_bytes(const FusedFwdConfig& c);

/// The instantiation for q/k/v dtype `qkv` (bf16 or fp16) and β dtype `beta` (f32 or == qkv) of the
/// config's variant: the mma kernel, the warp-specialised one (register split) or the wgmma one.
cuda::KernelSpec fused_fwd_spec(const FusedFwdConfig& c, DType qkv, DType beta);

/// (V / BV) · H_v · N CTAs, 1-D; 32 · warps threads, plus a 128-thread producer warpgroup with a
/// register split; 384 threads (three warpgroups) for the wgmma variant.
cuda::LaunchShape fused_fwd_shape(const FusedFwdConfig& c, int num_sequences, int heads_v);

/// Empty when the config can run `p`, else why not (head dims, dtypes, head ratio).
std::string can_implement(const Problem& p, const FusedFwdConfig& c);

/// Empty when the pointers and strides meet the kernel's alignment preconditions, else which tensor
/// does not.
std::string check_params(const FusedFwdParams& p);

/// "T, TM" of fused_fwd_wgmma_kernel's instantiation for `c` and q/k/v dtype `qkv`: the operand
/// type of the products that read input tiles, then of the products of intermediates
/// (gdn/fused_fwd_wgmma.cuh).
std::string fused_wgmma_operand_types(const FusedFwdConfig& c, DType qkv);

namespace detail {
/// Checks shared by kkt_solve, fused_fwd and state_pass: K = V = 128, 16-bit q/k/v, f32 or
/// qkv-dtype β, f32 g, H_v a multiple of H_qk. Empty when fine.
std::string fused_family_can_implement(const Problem& p, const char* kernel);
/// Empty when a 16-bit token tensor has 16-byte aligned data and strides (multiples of 8 elements).
std::string check_rows16(const TokenTensor& t, const char* name);
/// "__nv_bfloat16" / "__half" for q/k/v; throws UserError otherwise.
std::string qkv_type_name(DType qkv);
/// "float" or the qkv type for β; throws UserError otherwise.
std::string beta_type_name(DType qkv, DType beta);
}  // namespace detail

}  // namespace qla::gdn
