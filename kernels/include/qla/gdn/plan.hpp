// Planning one GDN forward: which algorithm, which config of every kernel, whether and how to split long
// sequences (CP), and the device metadata the kernels read. make_plan may allocate, upload and JIT-compile;
// forward() afterwards does neither (forward.hpp).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "qla/cuda/device_info.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/gdn/tensor_views.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// The forward algorithms.
enum class Algorithm {
  kFused,    ///< FlashQLA's: cumsum, kkt_solve, [CP], fused_fwd (K2's kernels)
  kUnfused,  ///< baseline (b): FLA-style five-kernel pipeline (K3's)
  kNaive,    ///< baseline (a): token-by-token recurrence
};
/// "fused", "unfused", "naive".
const char* algorithm_name(Algorithm a);
/// Inverse of algorithm_name; nullopt when unknown.
std::optional<Algorithm> parse_algorithm(const std::string& name);

/// Context parallelism of the fused path.
enum class CpMode { kOff, kOn, kAuto };

/// Where a config comes from when no explicit one is given: (kernel id, problem, arch) → point, or nullopt.
using ConfigLookup =
    std::function<std::optional<Point>(const std::string& kernel, const Problem& problem, const ArchInfo& arch)>;

/// The fused path's op-level knobs as a point of the runtime space "gdn.fwd_plan" (no recompilation of its
/// own), so the tuner searches them jointly: the chunk size C every kernel of the path shares, and the CP knobs.
/// Label e.g. "c64.cp2.pc0.th10".
struct FwdPlanConfig {
  int chunk = 64;        ///< C of cumsum, kkt_solve, fused_fwd and state_pass
  int cp = 2;            ///< 0 off, 1 on (split wherever a sequence has more than L chunks), 2 auto (GDN.md §2.10)
  int piece_chunks = 0;  ///< L, chunks (of C) per CP piece; 0 = FlashQLA's rule (§3.2)
  /// Warm-up threshold magnitude: a window stops once its summed log decay is below −threshold (FlashQLA: 10).
  /// Stored positive because config labels carry digits only.
  int threshold = 10;

  Point to_point() const { return {chunk, cp, piece_chunks, threshold}; }
  static FwdPlanConfig from_point(const Point& p);  ///< throws UserError when p is not in the space
};

/// The axis values of gdn.fwd_plan: the one declaration fwd_plan_space() is built from, constexpr so the
/// generated deployment header can static_assert its rows against it.
inline constexpr int kFwdPlanChunkValues[] = {64, 32};                        ///< C, tokens
inline constexpr int kFwdPlanCpValues[] = {2, 0, 1};                          ///< 2 auto, 0 off, 1 on
inline constexpr int kFwdPlanPieceChunksValues[] = {0, 4, 8, 16, 32, 64, 128};  ///< L; 0 = FlashQLA's rule
inline constexpr int kFwdPlanThresholdValues[] = {10, 6, 8, 12, 16};          ///< −log-decay bound

/// Whether every value is one of its axis' values (compile-time SpaceDecl::contains).
constexpr bool fwd_plan_in_space(int chunk, int cp, int piece_chunks, int threshold) {
  auto in = [](const auto& values, int v) {
    for (int x : values)
      if (x == v) return true;
    return false;
  };
  return in(kFwdPlanChunkValues, chunk) && in(kFwdPlanCpValues, cp) && in(kFwdPlanPieceChunksValues, piece_chunks) &&
         in(kFwdPlanThresholdValues, threshold);
}

/// Axes chunk "c", cp "cp", piece_chunks "pc", threshold "th" (the kFwdPlan*Values above; threshold 10 means
/// −10); default c64.cp2.pc0.th10 (FlashQLA's rules); id "gdn.fwd_plan"; runtime = true.
const SpaceDecl& fwd_plan_space();

/// The kernels of the fused path that share the plan's chunk size C (axis 0 of each of their spaces).
inline constexpr const char* kChunkSharingKernels[] = {"gdn.fused_fwd", "gdn.kkt_solve", "gdn.state_pass",
                                                       "gdn.cumsum"};

/// The fused forward's V-split rule (GDN.md §2.3) for `ctas_per_slice` = (CP pieces or sequences) · H_v:
/// 128 when that fills 0.7 of the SMs, 64 when twice that does, else 32.
int fused_block_v_heuristic(long long ctas_per_slice, int sm_count);

/// The register split an untuned plan runs on a target with setmaxnreg (gdn.fused_fwd's rs axis).
inline constexpr int kUntunedRegSplit = 40;

/// The gdn.fused_fwd config make_plan runs for `problem` on `arch` when nothing is given or looked up: the
/// space's default with the §2.3 BV rule applied to the default CP decision and, where the target has
/// setmaxnreg (sm_90a), the warp-specialised kernel at kUntunedRegSplit. The tuner measures it as the untuned
/// baseline. Host-only; no GPU needed.
Point untuned_fused_point(const Problem& problem, const ArchInfo& arch);

/// What the caller may force. Precedence per kernel: `configs` > `lookup` > the space's default (for
/// gdn.fused_fwd: untuned_fused_point's rules on the default). The kernels of the fused path (kChunkSharingKernels) share
/// one chunk size C, decided in this order: an explicit gdn.fused_fwd config; an explicit gdn.fwd_plan point; an
/// explicit config of another chunk-sharing kernel; a looked-up gdn.fwd_plan point; a looked-up gdn.fused_fwd
/// config; 64. Default points are moved to C; a looked-up point at another C belongs to another tuning and is
/// replaced by the default at C (so chunk sizes are never mixed; a looked-up plan point at another C gives way
/// to the CP fields below); an explicit point with another C is a UserError. The CP knobs come from the "gdn.fwd_plan" point when `configs` or `lookup` give one, else from the
/// fields `cp`, `cp_piece_chunks` and `cp_threshold` below.
struct PlanOptions {
  Algorithm algorithm = Algorithm::kFused;
  std::map<std::string, Point> configs;  ///< kernel id ("gdn.naive_fwd", ...) → point
  ConfigLookup lookup;                   ///< the tuner's lookup; empty = none
  CpMode cp = CpMode::kAuto;
  int cp_piece_chunks = 0;               ///< chunks per CP piece (≥ 1); 0 = FlashQLA's rule (GDN.md §3.2)
  float cp_threshold = -10.f;            ///< warm-up stops once the summed log decay is below this
};

/// Byte offsets of the fused path's intermediates inside the caller's workspace (kNone when absent), so tests
/// and tools can read them after forward().
struct FusedWorkspaceLayout {
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t g_cum = kNone;       ///< fp32 [B, T, H_v] chunk-local cumsum of g
  std::size_t a_r = kNone;         ///< qkv dtype [B, T, H_v, C] gate-free UT matrix A_r
  std::size_t num_warmup = kNone;  ///< int32 [P, H_v] CP warm-up chunk counts
  std::size_t fallback = kNone;    ///< int32 [P, H_v] 1 where the warm-up never reached the threshold
  std::size_t cp_ht = kNone;       ///< fp32 [P, H_v, K, V] warm-up states R
  std::size_t cp_m = kNone;        ///< fp32 [P, H_v, K, K] transitions M (fallback heads; zeros elsewhere)
  std::size_t cp_h0 = kNone;       ///< fp32 [P, H_v, K, V] corrected initial state of every piece
};

/// A ready-to-run forward for one Problem on one device. Move-only; owns its device metadata.
class Plan {
 public:
  Plan();
  ~Plan();
  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  const Problem& problem() const;
  Algorithm algorithm() const;
  /// Bytes of scratch the caller passes to forward() (256-byte aligned pointer).
  std::size_t workspace_bytes() const;
  /// Empty when forward() can run; else why not (the plan then returns not_implemented).
  const std::string& not_implemented_reason() const;
  /// Kernel id → the config label chosen ("gdn.naive_fwd" → "bv32.ks4"), for logs and the tuner.
  const std::map<std::string, std::string>& config_labels() const;
  /// CP decision: pieces of the split (0 = CP off) and chunks per piece.
  int cp_pieces() const;
  int cp_piece_chunks() const;
  /// Warm-up threshold the CP path uses (log space).
  float cp_threshold() const;
  /// The CP split (host copy; empty when CP is off).
  const CpSplit& cp_split() const;
  /// Chunk size C of the plan's work lists (the fused config's for kFused, else 64).
  int chunk() const;
  /// The raw sequences as kernels see them (work list for chunk()).
  const SequenceView& sequences() const;
  /// Where forward() keeps the fused path's intermediates in the workspace.
  const FusedWorkspaceLayout& fused_workspace() const;

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

/// Validates the problem (UserError), picks configs and uploads metadata. Unsupported problems (K ≠ 128, a
/// missing kernel) do not throw: the plan carries the reason and forward() returns not_implemented.
Plan make_plan(const Problem& problem, const cuda::DeviceInfo& device, const PlanOptions& options = {});

}  // namespace qla::gdn
