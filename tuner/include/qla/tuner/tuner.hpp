// The tuning loop: for one kernel (or op plan) space and one problem, search the space with a
// strategy under a budget, evaluating each proposed config through the compile queue and a
// TrialRunner (validate, then time), committing every trial to the store as it lands; then
// re-measure the top few with paired runs and record the winner. A rerun resumes: configs the store
// already holds for this device, kernel source, space and problem are not measured again, and a
// decided winner is kept when nothing new was measured.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"
#include "qla/tuner/compile_queue.hpp"
#include "qla/tuner/fingerprint.hpp"
#include "qla/tuner/runner.hpp"
#include "qla/tuner/search.hpp"
#include "qla/tuner/store.hpp"

namespace qla::tuner {

/// The config of another kernel a candidate of a joint space runs with.
struct MemberConfig {
  KernelIdentity identity;  ///< the member kernel's identity (its trials and winner in the store)
  std::string label;        ///< its config label
  Point values;             ///< its config values
  std::string
      default_label;  ///< its space's default config (the untuned op, for the winner's speedup)
  /// Its default_label is the untuned op's own config (TunableKernel::baseline): its trial there
  /// times exactly the untuned op, so the plan's speedup is taken from it first. Another member's
  /// default trial timed the op with whatever the untuned rules were when it ran.
  bool baseline = false;
};
/// Member kernel id → its config.
using Members = std::map<std::string, MemberConfig>;

/// A space the tuner can search, with what identifies its code and how to compile a point.
struct TunableKernel {
  SpaceDecl space;
  std::string
      source_hash;  ///< hex hash of the device source (trials of other sources are not reused)
  CompileQueue::CompileFn compile;  ///< empty: nothing to compile (AOT or fake kernels)
  /// Joint spaces only (the op plan): the member configs a candidate runs with, chosen from what
  /// the store holds when the candidate is evaluated. Axis 0 of a joint space is taken to select
  /// the members (the chunk size): the default point at each of its values is evaluated before the
  /// search. Trials are labelled with them (a changed member is a new trial), and the winner's
  /// members become the members' winners for that problem, so every kernel's served config belongs
  /// to one measured plan.
  std::function<Members(const gdn::Problem&, const Point&)> members = {};
  /// The config the untuned op runs for a problem (e.g. the fused kernel's default with its BV
  /// rule); empty: the space's default. It is always measured first and is the "default" of the
  /// winner's speedup.
  std::function<Point(const gdn::Problem&)> baseline = {};
  /// Points measured right after the baseline, before the first axis' defaults and the
  /// neighbours' winners: what the untuned rules do not choose and a walk from the baseline, one
  /// axis value at a time, may not reach within a small budget (the op plan with the other CP
  /// decision). Empty: none.
  std::function<std::vector<Point>(const gdn::Problem&)> alternatives = {};
  /// The representative of the points that run the same op as `point` for a problem (the op plan:
  /// with CP off its piece length and threshold do nothing). A search times one point per
  /// representative: a point whose op was timed (as a seed or a trial) takes that time without a
  /// trial or a share of the budget, and the walk goes on through it. Empty: every point is its
  /// own.
  std::function<Point(const gdn::Problem&, const Point&)> canonical = {};
  /// The op role the kernel fills (e.g. "chunk_fwd"): kernels of one role are variants, one of
  /// which a plan runs (Tuner::slow_variants). Empty: none.
  std::string role = {};
  /// Whether the untuned op launches the kernel for a problem (the CP kernels: only where the
  /// untuned op runs CP). Where it does not, every config times the same op, so `qla tune` keeps
  /// the untuned op's trial as the winner instead of searching (Tuner::keep_untuned). Empty:
  /// always launched.
  std::function<bool(const gdn::Problem&)> launched = {};
  /// launched(problem), or true.
  bool launched_for(const gdn::Problem& problem) const { return !launched || launched(problem); }
  /// Kernel id, source hash and the space's hash in hex.
  KernelIdentity identity() const;
  /// baseline(problem), or the space's default.
  Point baseline_point(const gdn::Problem& problem) const {
    return baseline ? baseline(problem) : space.default_point;
  }
};

/// A candidate's trial label: the space's label of `values`, then its members, e.g.
/// "c64.cp2.pc0.th10.v0.sv0 [gdn.fused_fwd_ws=c64.bv64.s2.w8.rs40 gdn.kkt_solve=c64.b16.w4]".
std::string candidate_label(const SpaceDecl& space, const Point& values, const Members& members);

/// Shown after every trial (the CLI turns it into the progress line).
struct TuneProgress {
  std::string kernel;
  std::string problem;      ///< problem key
  std::size_t trials = 0;   ///< evaluated so far for this (kernel, problem), resumed ones included
  std::size_t resumed = 0;  ///< of which taken from the store
  double best_us = 0;       ///< best valid time so far, 0 when none
  std::string best_config;
  std::string last_config;
  TrialStatus last_status = TrialStatus::kOk;
};

struct TuneOptions {
  Strategy strategy = Strategy::kAnneal;
  Budget budget;              ///< per (kernel, problem)
  std::uint64_t seed = 42;    ///< random and anneal strategies
  std::size_t finalists = 4;  ///< re-measured at the end (the default config is added when valid)
  int final_rounds = 10;      ///< paired rounds of the re-measurement
  /// Relative: finalists within this of the fastest are tied; the untuned point wins a tie it is
  /// in, else the lower config in the space's order.
  double tie_tolerance = 0.01;
  std::size_t compile_ahead = 4;  ///< configs compiled ahead of the one being measured
  /// Transfer: the winners of up to this many nearest tuned problems of the same class (H_qk, H_v,
  /// K, V, dtype) on this device are evaluated first (after the untuned op and, where the kernel's
  /// sources or space changed since, this problem's previous winner), within the budget, and the
  /// search goes on from the best of them. 0: no neighbours and no previous winner (the untuned op
  /// and a joint space's per-chunk defaults still come first).
  std::size_t transfer = 3;
  int compile_threads = 2;
  std::function<bool()> stop;  ///< polled between trials (SIGINT): true ends the search cleanly
  std::function<void(const TuneProgress&)> on_trial;
};

/// What tune() did for one (kernel, problem).
struct TuneOutcome {
  std::string kernel;
  std::string problem;
  std::size_t trials = 0;    ///< evaluated (resumed included)
  std::size_t measured = 0;  ///< run now
  std::size_t resumed = 0;   ///< taken from the store
  std::size_t seeded = 0;    ///< of the trials, evaluated before the search: the untuned op, for a
                             ///< joint space its default at each value of its first axis, this
                             ///< problem's earlier winner and neighbours' winners
  std::size_t transferred = 0;  ///< of the seeded, neighbours' winners (transfer)
  std::size_t recalled = 0;     ///< of the seeded, this problem's winner under earlier sources
  std::array<std::size_t, 6> by_status{};  ///< measured trials by TrialStatus (index = enum value)
  std::optional<Winner> winner;
  bool winner_reused = false;  ///< the store's decided winner was kept (nothing new measured)
  bool stopped = false;        ///< `stop` ended it; no winner was decided
  bool budget_exhausted = false;
  /// Why it was not searched (Tuner::keep_untuned): kSkipSlowVariant or kSkipNotLaunched; empty
  /// where it was.
  std::string skip_reason;
  bool skipped() const { return !skip_reason.empty(); }
};

/// TuneOutcome::skip_reason of a variant whose untuned op is far slower than another's.
inline constexpr const char* kSkipSlowVariant = "slow variant";
/// TuneOutcome::skip_reason of a kernel the untuned op does not launch for the problem.
inline constexpr const char* kSkipNotLaunched = "not launched";

class Tuner {
 public:
  /// `store`, `runner` must outlive the tuner. `run_id` tags the trials (0: none).
  Tuner(Store& store, DeviceFingerprint device, ArchInfo arch, TrialRunner& runner,
        std::int64_t run_id, TuneOptions options);
  TuneOutcome tune(const TunableKernel& kernel, const gdn::Problem& problem);
  /// The variants not worth a search on `problem`: of the kernels sharing a role, those whose
  /// untuned op (TunableKernel::baseline_point) takes more than `ratio` times the fastest of them
  /// (a failed one: any time). Each such kernel's untuned op is evaluated for it: measured once
  /// and stored as a trial, resumed after. None when `ratio` ≤ 0, when a role has one kernel,
  /// when none of a role's untuned ops ran, or when stopped. keep_untuned() then stands in for
  /// tune() for each of them.
  std::set<std::string> slow_variants(const std::vector<TunableKernel>& kernels,
                                      const gdn::Problem& problem, double ratio);
  /// A kernel's outcome without a search: the store's winner where one was decided (an earlier
  /// search's), else its untuned op (measured or resumed) becomes the winner, so the plans that
  /// run it still find a config. TuneOutcome::skip_reason is `reason`.
  TuneOutcome keep_untuned(const TunableKernel& kernel, const gdn::Problem& problem,
                           const char* reason = kSkipSlowVariant);
  /// What `qla tune` does for one kernel and problem: keep_untuned() where the untuned op does not
  /// launch the kernel (TunableKernel::launched: every config would time the same op) or where it
  /// is one of `slow` (slow_variants()), else tune().
  TuneOutcome tune_or_keep(const TunableKernel& kernel, const gdn::Problem& problem,
                           const std::set<std::string>& slow);

 private:
  /// The trial of `point` (with `members`, labelled `label`): compiled, run and stored.
  TrialResult measure(const TunableKernel& kernel, const gdn::Problem& problem, const Point& point,
                      const Members& members, const std::string& label);
  /// The trial of `kernel`'s untuned op on `problem`: resumed from the store, or measured
  /// (`measured` set); none where the untuned point does not build.
  std::optional<TrialResult> untuned_trial(const TunableKernel& kernel, const gdn::Problem& problem,
                                           bool& measured);
  CompileQueue& queue_for(const TunableKernel& kernel);
  TrialRequest request_for(const TunableKernel& kernel, const gdn::Problem& problem,
                           const Point& values) const;
  /// The winners of tuned neighbours of `problem` (those tuned before `started`, the problem's
  /// first trial, where given).
  std::vector<Coords> transfer_seeds(const TunableKernel& kernel, const gdn::Problem& problem,
                                     const std::optional<std::string>& started) const;
  void adopt_members(const TunableKernel& kernel, const gdn::Problem& problem, const Winner& w);
  void decide_winner(const TunableKernel& kernel, const gdn::Problem& problem, TuneOutcome& out);

  Store& store_;
  DeviceFingerprint device_;
  ArchInfo arch_;
  TrialRunner& runner_;
  std::int64_t run_id_;
  TuneOptions options_;
  std::map<std::string, std::unique_ptr<CompileQueue>> queues_;  ///< per kernel identity
};

}  // namespace qla::tuner
