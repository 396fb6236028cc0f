// Planning the GDN forward for a shape class: which algorithm, which config of every kernel,
// whether and how to split long sequences (CP), and the workspace. make_plan may JIT-compile;
// forward() afterwards neither compiles nor allocates nor synchronises (forward.hpp).
//
// A plan is made from one Problem, the class's representative: its heads, dims, dtypes, flags and
// scale are the class; its token rows and sequence count (or PlanOptions' larger capacity) bound
// every call. Each call brings its own sequences (a device cu_seqlens); the chunk work lists and
// the CP pieces are built from them on the device. What the representative decides for the whole
// class: the configs (looked up by its Problem::key()), whether CP is on, and the piece length. The
// gate-dependent part of CP (how far each piece's warm-up runs, and whether a head needs the exact
// transition) is decided on the device in every call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qla/cuda/device_info.hpp"
#include "qla/family.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/gdn/tensor_views.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// The forward algorithms.
enum class Algorithm {
  kFused,    ///< FlashQLA's: cumsum, kkt_solve, [CP], fused_fwd
  kUnfused,  ///< baseline (b): FLA-style five-kernel pipeline
  kNaive,    ///< baseline (a): token-by-token recurrence
};
/// "fused", "unfused", "naive".
const char* algorithm_name(Algorithm a);
/// Inverse of algorithm_name; nullopt when unknown.
std::optional<Algorithm> parse_algorithm(const std::string& name);

/// Context parallelism of the fused path: off, on, decided per problem by the untuned rule
/// (cp_untuned_rule, qla/gdn/cp.hpp), or by FlashQLA's SM90 rule (cp_flashqla_rule).
enum class CpMode { kOff, kOn, kAuto, kFlashQla };

/// Where a config comes from when no explicit one is given: (kernel id, problem, arch) → point, or
/// nullopt.
using ConfigLookup = std::function<std::optional<Point>(
    const std::string& kernel, const Problem& problem, const ArchInfo& arch)>;

/// The fused path's op-level knobs as a point of the runtime space "gdn.fwd_plan" (no recompilation
/// of its own), so the tuner searches them jointly: the chunk size C every kernel of the path
/// shares, the CP knobs, and which variant fills the chunk-forward role. Label e.g.
/// "c64.cp2.pc0.th10.v0.sv0".
struct FwdPlanConfig {
  int chunk = 64;  ///< C of cumsum, kkt_solve, the chunk forward and state_pass
  /// 0 off, 1 on (split wherever a sequence has more than L chunks), 2 the untuned rule
  /// (cp_untuned_rule), 3 FlashQLA's SM90 rule (cp_flashqla_rule)
  int cp = 2;
  int piece_chunks = 0;  ///< L, chunks (of C) per CP piece; 0 = the CP rule's (decide_cp)
  /// Warm-up threshold magnitude: a window stops once its summed log decay is below −threshold
  /// (FlashQLA: 10). Stored positive because config labels carry digits only.
  int threshold = 10;
  /// The chunk-forward variant: 0 = the untuned rule (untuned_chunk_fwd), else an index of
  /// kChunkFwdVariants.
  int variant = 0;
  /// The CP state pass's variant: 0 = the untuned rule (untuned_state_pass_family), else an index
  /// of kStatePassVariants.
  int state_variant = 0;

  Point to_point() const;
  static FwdPlanConfig from_point(const Point& p);  ///< throws UserError when p is not in the space
};

/// The families that can fill the chunk-forward role, by FwdPlanConfig::variant (index 0: the
/// untuned rule).
inline constexpr const char* kChunkFwdVariants[] = {"", "gdn.fused_fwd", "gdn.fused_fwd_ws",
                                                    "gdn.fused_fwd_wgmma"};
/// The families that can fill the CP state pass, by FwdPlanConfig::state_variant (index 0: the
/// untuned rule).
inline constexpr const char* kStatePassVariants[] = {"", "gdn.state_pass", "gdn.state_pass_wgmma"};

inline constexpr int kFwdPlanChunkValues[] = {64, 32};   ///< C, tokens
inline constexpr int kFwdPlanCpValues[] = {2, 0, 1, 3};  ///< 2 auto, 0 off, 1 on, 3 FlashQLA's rule
inline constexpr int kFwdPlanPieceChunksValues[] = {0,  4,  8,  16,
                                                    32, 64, 128};     ///< L; 0 = the CP rule's
inline constexpr int kFwdPlanThresholdValues[] = {10, 6, 8, 12, 16};  ///< −log-decay bound
inline constexpr int kFwdPlanVariantValues[] = {0, 1, 2, 3};          ///< kChunkFwdVariants index
inline constexpr int kFwdPlanStateVariantValues[] = {0, 1, 2};        ///< kStatePassVariants index

/// What the plan's "untuned" values mean (cp 2, pc 0, v 0, sv 0 resolve through host rules, not
/// through a kernel's source). It is part of the plan's tuning identity: change it with the rules,
/// so trials measured under older rules are not resumed as if they were the same points.
inline constexpr const char* kFwdPlanRules =
    "cp2: cp_untuned_rule (Be*Hv<=40, NT64>=max(8*min(Be*Hv,8),4*Be*Hv) to 24, else 6*Be*Hv); pc0: "
    "cp 3 FlashQLA's sqrt length, else twice it; bv: wgmma makespan (bv64 2/SM 1|2.17, bv128 "
    "1/SM 1.74, emptiest SM first, >8 waves 128), else FlashQLA's 0.7 SMs";

/// The declaration of the runtime space gdn.fwd_plan (qla/family.hpp): default
/// c64.cp2.pc0.th10.v0.sv0 (the untuned CP rule and piece length, FlashQLA's warm-up threshold, the
/// untuned variant rules). Nothing to compile.
struct FwdPlanFamily {
  using Config = FwdPlanConfig;
  static constexpr const char* kId = "gdn.fwd_plan";
  static constexpr const char* kRole = "plan";
  static constexpr const char* kVariant = "runtime";
  static constexpr bool kRuntime = true;
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("chunk", "c", &Config::chunk, kFwdPlanChunkValues,
           "chunk size C shared by cumsum, kkt_solve, the chunk forward and state_pass"),
      axis("cp", "cp", &Config::cp, kFwdPlanCpValues,
           "context parallelism: 0 off, 1 on, 2 the untuned rule (cp_untuned_rule), 3 FlashQLA's "
           "SM90 rule"),
      axis("piece_chunks", "pc", &Config::piece_chunks, kFwdPlanPieceChunksValues,
           "chunks per CP piece; 0 = the CP rule's (cp 3: FlashQLA's sqrt rule, else twice it)"),
      axis("threshold", "th", &Config::threshold, kFwdPlanThresholdValues,
           "CP warm-up stops once the summed log decay is below -th"),
      axis("variant", "v", &Config::variant, kFwdPlanVariantValues,
           "chunk-forward variant: 0 the untuned rule, 1 gdn.fused_fwd (mma), 2 gdn.fused_fwd_ws, "
           "3 gdn.fused_fwd_wgmma"),
      axis("state_variant", "sv", &Config::state_variant, kFwdPlanStateVariantValues,
           "CP state-pass variant: 0 the untuned rule, 1 gdn.state_pass (mma), "
           "2 gdn.state_pass_wgmma"),
  };
  /// A wgmma variant (v3, sv2) needs C = 64 and a target with wgmma and setmaxnreg.
  static bool buildable(const Config& c, const ArchInfo& arch) {
    const bool wgmma = c.variant == 3 || c.state_variant == 2;
    return !wgmma || (c.chunk == 64 && arch.has_wgmma() && arch.has_setmaxnreg());
  }
};

inline Point FwdPlanConfig::to_point() const { return qla::to_point<FwdPlanFamily>(*this); }
inline FwdPlanConfig FwdPlanConfig::from_point(const Point& p) {
  return qla::from_point<FwdPlanFamily>(p);
}

/// gdn.fwd_plan's space (space_of<FwdPlanFamily>(); runtime = true).
inline const SpaceDecl& fwd_plan_space() { return space_of<FwdPlanFamily>(); }

/// The roles of the fused forward op, in launch order; each is filled by one family of the kernel
/// catalog whose kRole names it (the chunk forward by one of kChunkFwdVariants, the state pass by
/// one of kStatePassVariants).
inline constexpr const char* kFusedForwardRoles[] = {"gate_prep",     "ut_prep",    "cp_warmup",
                                                     "cp_state_pass", "cp_correct", "chunk_fwd"};
/// Of those, the roles the fused forward launches only where it runs CP (untuned_op_runs_cp).
inline constexpr const char* kCpRoles[] = {"cp_warmup", "cp_state_pass", "cp_correct"};

/// The kernels of the fused path that share the plan's chunk size C (their "chunk" axis).
inline constexpr const char* kChunkSharingKernels[] = {
    "gdn.fused_fwd",  "gdn.fused_fwd_ws",     "gdn.fused_fwd_wgmma", "gdn.kkt_solve",
    "gdn.state_pass", "gdn.state_pass_wgmma", "gdn.cumsum"};

/// FlashQLA's V-split rule (the mma.sync chunk forwards' untuned one) for `ctas_per_slice` = (CP
/// pieces or sequences) · H_v: 128 when that fills 0.7 of the SMs, 64 when twice that does,
/// else 32.
int fused_block_v_heuristic(long long ctas_per_slice, int sm_count);

/// gdn.fused_fwd_wgmma's V-split rule: 64 (one chain a CTA, two CTAs a head) or 128 (two chains a
/// CTA), whichever launch a makespan model finishes first. `item_chunks` holds the chunks of each
/// launched sequence or CP piece in launch order, each run by `h_v` heads. The model: a CTA goes
/// to the SM with the fewest resident CTAs; one-chain CTAs are two an SM, a chunk costing 1 alone
/// and 2.17 beside another; two-chain CTAs are one an SM at 1.74 a chunk (H200). Past 8 waves of
/// two-chain CTAs, and with no SM count, 128. FlashQLA's fill rule (fused_block_v_heuristic) runs
/// two chains at 8/24 1024x8 where one chain finishes first, and on uneven packed batches (16/64
/// 28672+4096) where the long sequence's chain is the critical path.
int wgmma_block_v_rule(const std::vector<std::int64_t>& item_chunks, int h_v, int sm_count);

/// The chunk-forward family the untuned op runs on `arch`: gdn.fused_fwd_wgmma where the target has
/// wgmma and setmaxnreg (sm_90a; 1.54x gdn.fused_fwd_ws, geomean of the 20 headline shapes on the
/// H200, 2026-11-29), else gdn.fused_fwd_ws where it has setmaxnreg, else gdn.fused_fwd; the first
/// of them that has chunk size `chunk` (the wgmma variant has only 64).
const char* untuned_chunk_fwd_family(const ArchInfo& arch, int chunk = 64);

/// The CP state-pass family the untuned op runs on `arch` at chunk size `chunk`:
/// gdn.state_pass_wgmma where its default builds at that C (sm_90a, C = 64), else gdn.state_pass.
const char* untuned_state_pass_family(const ArchInfo& arch, int chunk = 64);

/// The point of chunk-forward family `kernel` that the untuned op runs for `problem` on `arch`: the
/// family's default with its V-split rule (wgmma_block_v_rule for gdn.fused_fwd_wgmma, else
/// fused_block_v_heuristic) applied to the default CP decision, where that still builds. The tuner
/// measures it as each family's untuned baseline. Host-only; no GPU needed.
Point untuned_fused_point(const std::string& kernel, const Problem& problem, const ArchInfo& arch);

/// The op plan's default with the other CP decision than the untuned plan's: CP off where the
/// untuned rule (cp_untuned_rule) cuts a sequence; where it does not, CP on at the untuned length
/// if that cuts a sequence, else at the longest listed length (kFwdPlanPieceChunksValues) that cuts
/// the longest sequence in two or more. nullopt where no listed length cuts a sequence. The tuner
/// measures it right after the untuned plan: its walk from the untuned point moves one axis value
/// at a time and, with a small budget, may never reach the other CP decision. Host-only.
std::optional<Point> other_cp_plan_point(const Problem& problem, const ArchInfo& arch);

/// Whether the untuned op splits `problem` into CP pieces on `arch` at some chunk size of the op
/// plan's space (kFwdPlanChunkValues), so that it launches the CP warm-up, state pass and
/// correction. Where it does not, every config of those kernels times the same op. Host-only.
bool untuned_op_runs_cp(const Problem& problem, const ArchInfo& arch);

/// The plan point that runs the same op as `point` for `problem` on `arch`, with every knob that op
/// does not use at its first value, so equivalent points have one representative: the chunk-forward
/// variant of the untuned rule is v0; with CP off (by any mode) cp is 2 where the untuned rule also
/// leaves it off, else 0, and the piece length, the warm-up threshold and the state-pass variant
/// are their defaults; with CP on at L chunks cp is 2 (pc0) where the untuned rule cuts at L, else
/// 1, with pc0 where the untuned length is L, else pc = L (where L is not listed, cp and pc stay as
/// they are), and the state-pass variant of the untuned rule is sv0. The tuner times one point per
/// representative. Host-only.
Point canonical_plan_point(const Problem& problem, const Point& point, const ArchInfo& arch);

/// What the untuned op runs on `arch`, as text: kFwdPlanRules, then each role's untuned family and
/// point (chunk forward, state pass, kkt_solve, cp_correct) and whether CP is on with what piece
/// length, over a fixed set of problems (the headline shapes' extremes, fp32 and bf16 gates, both
/// chunk sizes). The tuner times every kernel's trial as the whole op with the other roles at
/// these points, so it folds this text into every trial's identity: a change of any untuned rule
/// starts fresh trials instead of ranking configs timed in different ops. Host-only.
std::string untuned_op_signature(const ArchInfo& arch);

/// What the caller may force. Precedence per kernel: `configs` > `lookup` > the space's default.
///
/// The chunk-forward role (kChunkFwdVariants) is filled by one family: the one of an explicit
/// config (several given: the explicit gdn.fwd_plan point's variant picks, else
/// untuned_chunk_fwd_family; UserError when that one has no config); else the variant of the
/// gdn.fwd_plan point (explicit or looked up) when it names one; else untuned_chunk_fwd_family. Its
/// point: explicit, else looked up, else untuned_fused_point. The CP state pass
/// (kStatePassVariants) the same way with the plan's state variant and untuned_state_pass_family,
/// at the plan's C: a looked-up plan point counts only at its own C, and one naming a family that
/// does not build there gives way to the untuned rule (an explicit one is a UserError).
///
/// The kernels of kChunkSharingKernels share one chunk size C: the chunk-forward config's when
/// explicit, else an explicit gdn.fwd_plan point's, else an explicit config of another
/// chunk-sharing kernel's, else a looked-up plan point's, else a looked-up chunk-forward config's,
/// else 64. Default points are moved to C; a looked-up point at another C belongs to another tuning
/// and is replaced by the default at C (chunk sizes are never mixed); an explicit point at another
/// C is a UserError. The CP knobs come from the gdn.fwd_plan point when `configs` or `lookup` give
/// one (a looked-up one only at C), else from the fields below.
struct PlanOptions {
  Algorithm algorithm = Algorithm::kFused;
  std::map<std::string, Point> configs;  ///< kernel id ("gdn.naive_fwd", ...) → point
  ConfigLookup lookup;                   ///< the tuner's lookup; empty = none
  CpMode cp = CpMode::kAuto;
  int cp_piece_chunks = 0;     ///< chunks per CP piece (≥ 1); 0 = the CP mode's rule: FlashQLA's
                               ///< length under CpMode::kFlashQla, else cp_piece_chunks_untuned
  float cp_threshold = -10.f;  ///< warm-up stops once the summed log decay is below this
  /// The class's capacity: calls of up to this many token rows (B·T) and sequences. 0 = the
  /// problem's own; smaller values are raised to it.
  long long max_rows = 0;
  long long max_sequences = 0;
  /// The fused path's kernels after the first are launched with programmatic dependent launch
  /// (sm_90+): each may be scheduled while its predecessor's last wave runs and waits for it
  /// (griddepcontrol.wait) before touching memory, which hides the launch gaps between the
  /// kernels. Per-kernel GPU times then overlap: a kernel's span includes its wait. Plans with CP
  /// launch only the kernels `cp_programmatic_launches` names that way (by default none: their
  /// small side passes ran slower beside the early CTAs of the next kernel).
  bool programmatic_dependent_launch = true;
  /// With CP, the kernels launched with programmatic dependent launch when
  /// `programmatic_dependent_launch` is on: a CpLaunch mask (parse_cp_launches).
  unsigned cp_programmatic_launches = 0;
};

/// The kernels of the fused path with CP, by the kernel they follow: a mask for
/// PlanOptions::cp_programmatic_launches.
enum CpLaunch : unsigned {
  kCpLaunchPrep = 1u,           ///< cumsum and kkt_solve (after the work list, or l2norm)
  kCpLaunchWarmup = 2u,         ///< the warm-up counts (after kkt_solve)
  kCpLaunchStatePass = 4u,      ///< the state pass (after the warm-up counts)
  kCpLaunchCorrection = 8u,     ///< the correction (after the state pass)
  kCpLaunchChunkForward = 16u,  ///< the chunk forward (after the correction)
  kCpLaunchAll = 31u,
};

/// A CpLaunch mask from "none", "all" or a comma list of prep, warmup, state, correct and
/// forward; a UserError names anything else.
unsigned parse_cp_launches(const std::string& list);

/// Byte offsets of a call's sequence metadata inside the workspace (gdn/work_list_params.hpp says
/// what each list holds; kNone when absent).
struct WorkListLayout {
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t cu = kNone, chunk_index = kNone, chunk_offset = kNone;
  std::size_t piece_cu = kNone, piece_chunk_index = kNone, piece_chunk_offset = kNone,
              piece_is_last = kNone, ht_index = kNone, raw_first_piece = kNone;
  std::size_t error = kNone;  ///< int32: the call's error word (qla/gdn/call_error.hpp)
};

/// Byte offsets of the fused path's intermediates inside the caller's workspace (kNone when
/// absent), so tests and tools can read them after forward().
struct FusedWorkspaceLayout {
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t g_cum = kNone;       ///< fp32 [B, T, H_v] chunk-local cumsum of g
  std::size_t a_r = kNone;         ///< qkv dtype [B, T, H_v, C] gate-free UT matrix A_r
  std::size_t num_warmup = kNone;  ///< int32 [P, H_v] CP warm-up chunk counts
  std::size_t fallback = kNone;  ///< int32 [P, H_v] 1 where the warm-up never reached the threshold
  std::size_t cp_ht = kNone;     ///< fp32 [P, H_v, K, V] warm-up states R
  std::size_t cp_m =
      kNone;  ///< fp32 [P, H_v, K, K] transitions M (fallback heads; zeros elsewhere)
  std::size_t cp_h0 = kNone;  ///< fp32 [P, H_v, K, V] corrected initial state of every piece
  std::size_t cp_states = 0;  ///< P·H_v of the largest call: the matrices cp_m has room for
};

/// A ready-to-run forward for one shape class on one device. Move-only; holds no device memory.
class Plan {
 public:
  Plan();
  ~Plan();
  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  /// The representative problem the plan was made for.
  const Problem& problem() const;
  Algorithm algorithm() const;
  /// The largest call: token rows (B·T) and sequences.
  long long max_rows() const;
  long long max_sequences() const;
  /// Bytes of scratch the caller passes to forward() (256-byte aligned pointer), enough for any
  /// call of the class.
  std::size_t workspace_bytes() const;
  /// Empty when forward() can run; else why not (the plan then returns not_implemented).
  const std::string& not_implemented_reason() const;
  /// Kernel id → the config label chosen ("gdn.naive_fwd" → "bv32.ks4"), for logs and the tuner.
  const std::map<std::string, std::string>& config_labels() const;
  /// Whether calls split long sequences into CP pieces, and of how many chunks each.
  bool cp_enabled() const;
  int cp_piece_chunks() const;
  /// Pieces of the representative problem's split (0 = CP off), for logs and reports.
  int cp_pieces() const;
  /// Warm-up threshold the CP path uses (log space).
  float cp_threshold() const;
  /// Chunk size C of the work lists (the fused config's for kFused, else 64).
  int chunk() const;
  /// Where forward() keeps the call's sequence metadata and the fused path's intermediates.
  const WorkListLayout& work_list_layout() const;
  const FusedWorkspaceLayout& fused_workspace() const;

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

/// Forces one kernel's config in `options` from text: "KERNEL=LABEL" (e.g. gdn.cp_correct=bv16), or
/// a bare LABEL matched against gdn.fwd_plan's space (e.g. cp1.pc8.th-10) and then every kernel
/// family's, the first space that parses it taking it. UserError when it names no config of any.
void force_config(PlanOptions& options, const std::string& text);

/// Validates the problem (UserError), picks configs and resolves kernels. Unsupported problems (K ≠
/// 128, a missing kernel) do not throw: the plan carries the reason and forward() returns
/// not_implemented.
Plan make_plan(const Problem& problem, const cuda::DeviceInfo& device,
               const PlanOptions& options = {});

}  // namespace qla::gdn
