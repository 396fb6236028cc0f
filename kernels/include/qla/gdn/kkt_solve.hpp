// kkt_solve: A_r = (I + StrictLower(diag(β) K Kᵀ))⁻¹ per (chunk, value head), gate-free.
// Its configuration space, kernel specs and launch shapes. Plain C++17, no CUDA includes. Device
// code: kernels/device/gdn/kkt_solve.cuh; params: qla/gdn/fused_params.hpp.
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

/// One point of kkt_solve's space.
struct KktSolveConfig {
  int chunk = 64;  ///< C, tokens per chunk (must equal the fused kernel's)
  /// 16: block rows of 16, a warp per value head in registers (kkt_solve_rows.cuh); 32: diagonal
  /// blocks of 32 and one doubling merge, the CTA per value head (kkt_solve.cuh)
  int block = 16;
  int warps = 4;  ///< warps per CTA (1, 2, 4 or 8; 1 and 2 for block 16 only)
  /// 0: one CTA per (chunk, query/key head), its value heads in turn on one K Kᵀ; 1: one CTA per
  /// (chunk, value head), K Kᵀ formed by each (more CTAs, a shorter serial walk per CTA)
  int per_value_head = 0;
  /// 1: the kernel also writes the chunk-local cumsum of g for its chunk and value heads, and the
  /// op launches no cumsum kernel (one launch less on the chain)
  int fuse_cumsum = 0;

  Point to_point() const;
  static KktSolveConfig from_point(
      const Point& p);  ///< throws UserError when p is not in the space
};

inline constexpr int kKktSolveChunkValues[] = {64, 32};  ///< C, tokens
inline constexpr int kKktSolveBlockValues[] = {16, 32};  ///< diagonal block of the inversion, rows
inline constexpr int kKktSolveWarpsValues[] = {4, 8, 1, 2};   ///< warps per CTA
inline constexpr int kKktSolvePerValueHeadValues[] = {0, 1};  ///< CTA per qk head or value head
inline constexpr int kKktSolveFuseCumsumValues[] = {0, 1};    ///< also the chunk-local cumsum of g

/// The declaration of gdn.kkt_solve (qla/family.hpp): default c64.b16.w4.vh0.cs0.
struct KktSolveFamily {
  using Config = KktSolveConfig;
  static constexpr const char* kId = "gdn.kkt_solve";
  static constexpr const char* kRole = "ut_prep";
  static constexpr const char* kVariant = "mma";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("chunk", "c", &Config::chunk, kKktSolveChunkValues, "tokens per chunk C"),
      axis("block", "b", &Config::block, kKktSolveBlockValues,
           "16: block rows of 16, each warp inverts value heads on its own in registers; 32: "
           "diagonal blocks of 32 and one doubling merge, the CTA inverts each value head"),
      axis("warps", "w", &Config::warps, kKktSolveWarpsValues,
           "warps per CTA; with 1 or 2 (block 16) M is formed over the K tile and more CTAs fit a "
           "SM"),
      axis("per_value_head", "vh", &Config::per_value_head, kKktSolvePerValueHeadValues,
           "0: a CTA per (chunk, qk head) inverts its value heads in turn, 1: a CTA per (chunk, "
           "value head)"),
      axis("fuse_cumsum", "cs", &Config::fuse_cumsum, kKktSolveFuseCumsumValues,
           "1: also the chunk-local cumsum of g (no cumsum launch), 0: the cumsum kernel runs"),
  };
  /// The default and the untuned points (untuned_kkt_solve_point: 4, 1 or 2 warps) at both chunk
  /// sizes (a plan tuned at C = 32 elsewhere runs them untuned there).
  static constexpr Config kAot[] = {Config{},
                                    Config{32},
                                    Config{64, 16, 4, 0, 1},
                                    Config{32, 16, 4, 0, 1},
                                    Config{64, 16, 1, 0, 1},
                                    Config{32, 16, 1, 0, 1},
                                    Config{64, 16, 2, 0, 1},
                                    Config{32, 16, 2, 0, 1}};
  /// The inversion block fits the chunk; 1 or 2 warps only by block rows (block 16); shared
  /// memory within the arch's opt-in limit.
  static bool buildable(const Config& c, const ArchInfo& arch);
  /// bf16 and fp16 q/k/v, fp32 β.
  static std::vector<cuda::KernelSpec> specs(const Config& c);
  /// Served by `qla header` (qla/cuda/kernel_catalog.hpp), 4th in the generated header.
  static constexpr int kDeployOrder = 4;
  static constexpr const char* kDeployHeader = "qla/gdn/kkt_solve.hpp";
  static constexpr const char* kDeployTrait = "qla::gdn::KktSolveFamily";
  /// The instantiation a tuned row of `p` needs (its dtypes).
  static std::vector<cuda::KernelSpec> deploy_specs(const Config& c, const Problem& p);
};

inline Point KktSolveConfig::to_point() const { return qla::to_point<KktSolveFamily>(*this); }
inline KktSolveConfig KktSolveConfig::from_point(const Point& p) {
  return qla::from_point<KktSolveFamily>(p);
}

/// gdn.kkt_solve's space (space_of<KktSolveFamily>()).
inline const SpaceDecl& kkt_solve_space() { return space_of<KktSolveFamily>(); }

/// The untuned point of gdn.kkt_solve for `p`: the default with the gate's cumsum fused
/// (c64.b16.w4.vh0.cs1) where the gate is fp32 or bf16, else the default; with as many warps a CTA
/// as the GVA group has value heads where that is 1 or 2 (a warp inverts a value head, so 4 warps
/// a CTA keep 1 or 2 of 4 busy there). On an H200 (2026-11-29, CUDA graph) the fused cumsum took
/// the op to 0.88x-0.99x of its time with the default at 2/8, 4/16 and 16/64 heads, 2048 and 32768
/// tokens; at group 1 (16/16, 32/32, 2026-11-30) kkt_solve with 4 warps took 2.2x 16/64's time a
/// (chunk, value head).
Point untuned_kkt_solve_point(const Problem& p);

/// Dynamic shared memory of a config, bytes.
std::size_t kkt_solve_smem_bytes(const KktSolveConfig& c);

/// The instantiation for q/k/v dtype `qkv` (bf16 or fp16) and β dtype `beta` (f32 or == qkv).
cuda::KernelSpec kkt_solve_spec(const KktSolveConfig& c, DType qkv, DType beta);

/// A work item per (chunk, query/key head), whose value heads share K Kᵀ (vh0), or per (chunk,
/// value head) (vh1); one CTA per item, or for the b16 configs with `resident_ctas` > 0 no more
/// CTAs than that (the GPU's SMs times the CTAs one SM holds, by the occupancy calculator; each CTA
/// then takes items in turn).
cuda::LaunchShape kkt_solve_shape(const KktSolveConfig& c, int num_chunks, int heads_qk,
                                  int heads_v, int resident_ctas = 0);

/// Empty when the config can run `p`, else why not (head dims, dtypes, head ratio).
std::string can_implement(const Problem& p, const KktSolveConfig& c);

/// Empty when the pointers and strides meet the kernel's alignment preconditions, else which tensor
/// does not.
std::string check_params(const KktSolveParams& p);

}  // namespace qla::gdn
