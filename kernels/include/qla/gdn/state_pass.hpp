// state_pass: the state-only pass (FlashQLA's prepare_h) for the CP warm-up: the state
// after the last n chunks of each (piece, head) and, for heads that run all chunks, the transition
// matrix M. Its configuration space, kernel specs and launch shapes. Plain C++17, no CUDA includes.
// Device code: kernels/device/gdn/state_pass.cuh; params: qla/gdn/fused_params.hpp.
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

/// One point of state_pass's space.
struct StatePassConfig {
  int chunk = 64;    ///< C, tokens per chunk
  int stages = 2;    ///< input ring depth (1 or 2)
  int warps = 8;     ///< warps per CTA (4 or 8)
  int block_v = 64;  ///< state columns per CTA (64 or 128); M's columns get CTAs of their own

  Point to_point() const;
  static StatePassConfig from_point(
      const Point& p);  ///< throws UserError when p is not in the space
};

inline constexpr int kStatePassChunkValues[] = {64, 32};    ///< C, tokens
inline constexpr int kStatePassStagesValues[] = {1, 2};     ///< input ring depth
inline constexpr int kStatePassWarpsValues[] = {4, 8};      ///< warps per CTA
inline constexpr int kStatePassBlockVValues[] = {64, 128};  ///< state columns per CTA

/// The declaration of gdn.state_pass (qla/family.hpp): default c64.s2.w8.bv64.
struct StatePassFamily {
  using Config = StatePassConfig;
  static constexpr const char* kId = "gdn.state_pass";
  static constexpr const char* kRole = "cp_state_pass";
  static constexpr const char* kVariant = "mma";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("chunk", "c", &Config::chunk, kStatePassChunkValues, "tokens per chunk C"),
      axis("stages", "s", &Config::stages, kStatePassStagesValues, "cp.async input ring depth"),
      axis("warps", "w", &Config::warps, kStatePassWarpsValues, "warps per CTA"),
      axis("block_v", "bv", &Config::block_v, kStatePassBlockVValues,
           "state columns per CTA (of S, then of M)"),
  };
  /// The default at both chunk sizes: a plan whose chunk forward is tuned at C = 32 runs the
  /// untuned state pass at C = 32 too, and a deployed binary has no JIT to build it.
  static constexpr Config kAot[] = {Config{}, Config{32}};
  /// Within the arch's shared-memory opt-in limit.
  static bool buildable(const Config& c, const ArchInfo& arch);
  /// bf16 and fp16 q/k/v with fp32 β (one instantiation serves with and without M).
  static std::vector<cuda::KernelSpec> specs(const Config& c);
  /// Served by `qla header` (qla/cuda/kernel_catalog.hpp), 5th in the generated header.
  static constexpr int kDeployOrder = 5;
  static constexpr const char* kDeployHeader = "qla/gdn/state_pass.hpp";
  static constexpr const char* kDeployTrait = "qla::gdn::StatePassFamily";
  /// The instantiation for `p`'s dtypes.
  static std::vector<cuda::KernelSpec> deploy_specs(const Config& c, const Problem& p);
};

inline Point StatePassConfig::to_point() const { return qla::to_point<StatePassFamily>(*this); }
inline StatePassConfig StatePassConfig::from_point(const Point& p) {
  return qla::from_point<StatePassFamily>(p);
}

/// gdn.state_pass's space (space_of<StatePassFamily>()).
inline const SpaceDecl& state_pass_space() { return space_of<StatePassFamily>(); }

/// Dynamic shared memory, bytes.
std::size_t state_pass_smem_bytes(const StatePassConfig& c);

/// The instantiation for q/k/v dtype `qkv`, β dtype `beta`.
cuda::KernelSpec state_pass_spec(const StatePassConfig& c, DType qkv, DType beta);

/// (N · H_v, state_pass_slices) CTAs; `with_m` when any head may need M (StatePassParams::m
/// non-null).
cuda::LaunchShape state_pass_shape(const StatePassConfig& c, int num_sequences, int heads_v,
                                   bool with_m);

/// Empty when the config can run `p`, else why not.
std::string can_implement(const Problem& p, const StatePassConfig& c);

/// Empty when the pointers and strides meet the kernel's alignment preconditions, else which tensor
/// does not.
std::string check_params(const StatePassParams& p);

}  // namespace qla::gdn
