// state_pass: the state-only pass (FlashQLA's prepare_h, GDN.md §1.4c,d, §2.4) for the CP warm-up: the state
// after the last n chunks of each (piece, head) and, for heads that run all chunks, the transition matrix M.
// Its configuration space, kernel specs and launch shapes. Plain C++17, no CUDA includes. Device code:
// kernels/device/gdn/state_pass.cuh; params: qla/gdn/fused_params.hpp.
#pragma once

#include <cstddef>
#include <string>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/gdn/fused_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// One point of state_pass's space.
struct StatePassConfig {
  int chunk = 64;   ///< C, tokens per chunk
  int stages = 2;   ///< input ring depth (1 or 2); the M-computing instantiation always runs 1
  int warps = 8;    ///< warps per CTA (4 or 8)

  Point to_point() const { return {chunk, stages, warps}; }
  static StatePassConfig from_point(const Point& p);  ///< throws UserError when p is not in the space
};

/// The axis values of gdn.state_pass: the one declaration state_pass_space() is built from, constexpr so the
/// generated deployment header can static_assert its rows against it.
inline constexpr int kStatePassChunkValues[] = {64, 32};  ///< C, tokens
inline constexpr int kStatePassStagesValues[] = {1, 2};   ///< input ring depth
inline constexpr int kStatePassWarpsValues[] = {4, 8};    ///< warps per CTA

/// Whether every value is one of its axis' values (compile-time SpaceDecl::contains; no buildable check).
constexpr bool state_pass_in_space(int chunk, int stages, int warps) {
  auto in = [](const auto& values, int v) {
    for (int x : values)
      if (x == v) return true;
    return false;
  };
  return in(kStatePassChunkValues, chunk) && in(kStatePassStagesValues, stages) && in(kStatePassWarpsValues, warps);
}

/// Axes: chunk "c" {64, 32}, stages "s" {1, 2}, warps "w" {4, 8} (the kStatePass*Values above); default
/// c64.s2.w8; id "gdn.state_pass".
const SpaceDecl& state_pass_space();

/// Dynamic shared memory, bytes; `with_m` for the instantiation that can compute M.
std::size_t state_pass_smem_bytes(const StatePassConfig& c, bool with_m);

/// The instantiation for q/k/v dtype `qkv`, β dtype `beta`; `with_m` when any head may need M (StatePassParams::m
/// non-null).
cuda::KernelSpec state_pass_spec(const StatePassConfig& c, DType qkv, DType beta, bool with_m);

/// N · H_v CTAs, 1-D.
cuda::LaunchShape state_pass_shape(const StatePassConfig& c, int num_sequences, int heads_v, bool with_m);

/// Empty when the config can run `p`, else why not.
std::string can_implement(const Problem& p, const StatePassConfig& c);

/// Empty when the pointers and strides meet the kernel's alignment preconditions, else which tensor does not.
std::string check_params(const StatePassParams& p);

}  // namespace qla::gdn
