// kkt_solve: A_r = (I + StrictLower(diag(β) K Kᵀ))⁻¹ per (chunk, value head), gate-free (GDN.md §1.4a, §2.2).
// Its configuration space, kernel specs and launch shapes. Plain C++17, no CUDA includes. Device code:
// kernels/device/gdn/kkt_solve.cuh; params: qla/gdn/fused_params.hpp.
#pragma once

#include <cstddef>
#include <string>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/gdn/fused_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// One point of kkt_solve's space.
struct KktSolveConfig {
  int chunk = 64;  ///< C, tokens per chunk (must equal the fused kernel's)
  int block = 16;  ///< diagonal block size of the blocked inversion (16 or 32 rows)
  int warps = 4;   ///< warps per CTA (4 or 8)

  Point to_point() const { return {chunk, block, warps}; }
  static KktSolveConfig from_point(const Point& p);  ///< throws UserError when p is not in the space
};

/// The axis values of gdn.kkt_solve: the one declaration kkt_solve_space() is built from, constexpr so the
/// generated deployment header can static_assert its rows against it.
inline constexpr int kKktSolveChunkValues[] = {64, 32};  ///< C, tokens
inline constexpr int kKktSolveBlockValues[] = {16, 32};  ///< diagonal block of the inversion, rows
inline constexpr int kKktSolveWarpsValues[] = {4, 8};    ///< warps per CTA

/// Whether every value is one of its axis' values (compile-time SpaceDecl::contains; no buildable check).
constexpr bool kkt_solve_in_space(int chunk, int block, int warps) {
  auto in = [](const auto& values, int v) {
    for (int x : values)
      if (x == v) return true;
    return false;
  };
  return in(kKktSolveChunkValues, chunk) && in(kKktSolveBlockValues, block) && in(kKktSolveWarpsValues, warps);
}

/// Axes: chunk "c" {64, 32}, block "b" {16, 32}, warps "w" {4, 8} (the kKktSolve*Values above); default
/// c64.b16.w4; id "gdn.kkt_solve".
const SpaceDecl& kkt_solve_space();

/// Dynamic shared memory of a config, bytes.
std::size_t kkt_solve_smem_bytes(const KktSolveConfig& c);

/// The instantiation for q/k/v dtype `qkv` (bf16 or fp16) and β dtype `beta` (f32 or == qkv).
cuda::KernelSpec kkt_solve_spec(const KktSolveConfig& c, DType qkv, DType beta);

/// One CTA per (chunk, value head).
cuda::LaunchShape kkt_solve_shape(const KktSolveConfig& c, int num_chunks, int heads_v);

/// Empty when the config can run `p`, else why not (head dims, dtypes, head ratio).
std::string can_implement(const Problem& p, const KktSolveConfig& c);

/// Empty when the pointers and strides meet the kernel's alignment preconditions, else which tensor does not.
std::string check_params(const KktSolveParams& p);

}  // namespace qla::gdn
