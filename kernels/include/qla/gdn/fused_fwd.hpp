// fused_fwd: the FlashQLA-style fused forward (GDN.md §1.4b, §2.3): o and the final state from q, k, v, A_r,
// g_cum, β and the initial state, one CTA per (sequence or CP piece, value head, V-slice). Its configuration
// space, kernel specs and launch shapes. Plain C++17, no CUDA includes. Device code:
// kernels/device/gdn/fused_fwd.cuh; params: qla/gdn/fused_params.hpp.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/gdn/fused_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// One point of fused_fwd's space.
struct FusedFwdConfig {
  int chunk = 64;          ///< C, tokens per chunk (kkt_solve and the g cumsum must use the same)
  int block_v = 64;        ///< BV, V columns per CTA (32, 64, 128): V / BV CTAs per (sequence, head)
  int stages = 2;          ///< input ring depth (1..3): loads of chunk c + stages − 1 overlap chunk c
  int warps = 8;           ///< warps per CTA (4 or 8)
  int state_in_smem = 0;   ///< 0: fp32 state slice in registers; 1: in shared memory
  /// Register split: 0 = every warp loads and computes (fused_fwd_kernel); R > 0 = warp-specialised
  /// (fused_fwd_ws_kernel): a producer warpgroup at R registers per thread loads, `warps` consumer warps compute
  /// with the registers it gave up (fused_ws_consumer_regs). sm_90a only.
  int reg_split = 0;

  Point to_point() const { return {chunk, block_v, stages, warps, state_in_smem, reg_split}; }
  static FusedFwdConfig from_point(const Point& p);  ///< throws UserError when p is not in the space
};

/// The axis values of gdn.fused_fwd, in the order the searcher walks them: the one declaration fused_fwd_space()
/// is built from, kept constexpr so the generated deployment header can static_assert its rows against it.
inline constexpr int kFusedFwdChunkValues[] = {64, 32};           ///< C, tokens
inline constexpr int kFusedFwdBlockVValues[] = {32, 64, 128};     ///< BV, V columns per CTA
inline constexpr int kFusedFwdStagesValues[] = {1, 2, 3};         ///< input ring depth
inline constexpr int kFusedFwdWarpsValues[] = {4, 8};             ///< warps per CTA
inline constexpr int kFusedFwdStateInSmemValues[] = {0, 1};       ///< 0: registers, 1: shared memory
inline constexpr int kFusedFwdRegSplitValues[] = {0, 40, 24};     ///< producer registers, 0 = no producer

/// Whether every value is one of its axis' values (compile-time SpaceDecl::contains; no buildable check).
constexpr bool fused_fwd_in_space(int chunk, int block_v, int stages, int warps, int state_in_smem, int reg_split) {
  auto in = [](const auto& values, int v) {
    for (int x : values)
      if (x == v) return true;
    return false;
  };
  return in(kFusedFwdChunkValues, chunk) && in(kFusedFwdBlockVValues, block_v) && in(kFusedFwdStagesValues, stages) &&
         in(kFusedFwdWarpsValues, warps) && in(kFusedFwdStateInSmemValues, state_in_smem) &&
         in(kFusedFwdRegSplitValues, reg_split);
}

/// Axes: chunk "c" {64, 32}, block_v "bv" {32, 64, 128}, stages "s" {1, 2, 3}, warps "w" {4, 8},
/// state_in_smem "sm" {0, 1}, reg_split "rs" {0, 40, 24} (the kFusedFwd*Values above); default
/// c64.bv64.s2.w8.sm0.rs0; id "gdn.fused_fwd". buildable(): shared memory within the arch's opt-in limit; a
/// register split only with the state in registers and on a target with setmaxnreg (ArchInfo::has_setmaxnreg).
const SpaceDecl& fused_fwd_space();

/// Dynamic shared memory of a config, bytes.
std::size_t fused_fwd_smem_bytes(const FusedFwdConfig& c);

/// The instantiation for q/k/v dtype `qkv` (bf16 or fp16) and β dtype `beta` (f32 or == qkv).
cuda::KernelSpec fused_fwd_spec(const FusedFwdConfig& c, DType qkv, DType beta);

/// (V / BV) · H_v · N CTAs, 1-D; 32 · warps threads, plus a 128-thread producer warpgroup with a register split.
cuda::LaunchShape fused_fwd_shape(const FusedFwdConfig& c, int num_sequences, int heads_v);

/// Empty when the config can run `p`, else why not (head dims, dtypes, head ratio).
std::string can_implement(const Problem& p, const FusedFwdConfig& c);

/// Empty when the pointers and strides meet the kernel's alignment preconditions, else which tensor does not.
std::string check_params(const FusedFwdParams& p);

namespace detail {
/// An axis' constexpr values as the std::vector a SpaceDecl holds.
template <std::size_t N>
std::vector<int> axis_values(const int (&values)[N]) {
  return std::vector<int>(values, values + N);
}
/// Checks shared by kkt_solve, fused_fwd and state_pass: K = V = 128, 16-bit q/k/v, f32 or qkv-dtype β,
/// f32 g, H_v a multiple of H_qk. Empty when fine.
std::string fused_family_can_implement(const Problem& p, const char* kernel);
/// Empty when a 16-bit token tensor has 16-byte aligned data and strides (multiples of 8 elements).
std::string check_rows16(const TokenTensor& t, const char* name);
/// "__nv_bfloat16" / "__half" for q/k/v; throws UserError otherwise.
std::string qkv_type_name(DType qkv);
/// "float" or the qkv type for β; throws UserError otherwise.
std::string beta_type_name(DType qkv, DType beta);
}  // namespace detail

}  // namespace qla::gdn
