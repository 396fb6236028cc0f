// The real GDN forward kernels as the tuner sees them: their spaces (from the kernel catalog), a
// compile step through NVRTC on host threads, and the worker-side backend that runs a candidate
// through qla::gdn::make_plan / forward with the candidate's config forced, validates it against
// qla::ref (outputs NaN-poisoned first) and times it with the measurement core. Lives in its own
// library (qla_tuner_gdn) so the tuner library itself does not depend on the kernels.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qla/space.hpp"
#include "qla/tuner/lookup.hpp"
#include "qla/tuner/measure.hpp"
#include "qla/tuner/runner.hpp"
#include "qla/tuner/tuner.hpp"

namespace qla::tuner {

/// The forward kernel families `qla tune` searches, filtered by `only` (kernel ids; empty = all of
/// the fused forward op, spaces of one point left out), and the op plan's runtime space
/// "gdn.fwd_plan" (CP knobs; nothing to compile). Candidates compile for `arch` (NVRTC, cached on
/// disk). Throws UserError naming `--kernels` for an unknown id.
std::vector<TunableKernel> gdn_tunable_kernels(const std::vector<std::string>& only,
                                               const ArchInfo& arch);

/// The target a trial on `device` was tuned for: the named target of its compute capability with
/// the card's SM count and L2 size (the untuned op in every identity depends on the SM count).
/// nullopt where qla names no target for that compute capability.
std::optional<ArchInfo> gdn_arch_of(const DeviceFingerprint& device);

/// The targets of the cards `store` has seen (gdn_arch_of; those qla names none for are left out),
/// then the named sm_90a target: where a kernel's identity, which reads the SM count, may have been
/// tuned.
std::vector<ArchInfo> gdn_store_archs(const Store& store);

/// The kernel identities this build tunes on every target of gdn_store_archs: what `qla db prune`
/// keeps beside the winners.
std::vector<KernelIdentity> gdn_current_identities(const Store& store);

/// The members of the op plan "gdn.fwd_plan" (TunableKernel::members): for a plan point of chunk
/// size C, every other tunable forward kernel's config taken from `store` for that problem on
/// `device`: its fastest valid trial at C (trials, not winners: a plan's winner rewrites its
/// members' winners, and a rerun must see the same members); kernels with nothing measured at C are
/// left out (they run at their defaults at C). A member's "default" is what the untuned op runs on
/// `arch`. `store` must outlive the function.
std::function<Members(const gdn::Problem&, const Point&)> gdn_plan_members(
    const Store& store, const DeviceFingerprint& device, const ArchInfo& arch);

/// A lookup over `store` for `device` that knows every tunable kernel of the fused forward and the
/// op plan "gdn.fwd_plan" at their current sources: what make_plan's PlanOptions::lookup should be
/// given (through make_config_hook) to run the tuned plan.
std::shared_ptr<Lookup> gdn_lookup(const Store& store, const DeviceFingerprint& device,
                                   const ArchInfo& arch);

/// The batch a candidate is validated on before `timed` is measured: the same shape class (heads,
/// GVA ratio, dims, dtypes, flags, scale) as packed varlen sequences of 2085 and 515 tokens
/// (partial chunks at C = 32 and 64). The candidate's plan is made for `timed` (so CP, piece length
/// and every config are the timed ones) and run on this batch.
gdn::Problem validation_problem(const gdn::Problem& timed);

/// The configs make_plan is given for trial `r`: its members, its own config, and for a gdn.cumsum
/// trial a kkt_solve at its untuned point without the fused cumsum (where the gate allows it the
/// untuned kkt_solve writes the cumsum itself, and the op would not run the kernel being timed).
std::map<std::string, Point> gdn_trial_configs(const TrialRequest& r);

/// The worker-side backend for device `device` (runs in `qla worker --device N`).
std::unique_ptr<TrialRunner> make_gdn_backend(int device, const MeasureOptions& options = {});

/// The arch facts of device `device` the spaces' buildable checks need.
ArchInfo gdn_arch_info(int device);

}  // namespace qla::tuner
