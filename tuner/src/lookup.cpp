#include "qla/tuner/lookup.hpp"

#include <limits>

#include "qla/error.hpp"
#include "qla/tuned_dispatch.hpp"
#include "qla/tuner/problem_json.hpp"

namespace qla::tuner {

std::string_view provenance_name(Provenance p) {
  switch (p) {
    case Provenance::kExact:
      return "exact";
    case Provenance::kNearest:
      return "nearest";
    case Provenance::kSameArch:
      return "same_arch";
    case Provenance::kHeuristic:
      return "heuristic";
  }
  return "?";
}

bool same_class(const gdn::Problem& a, const gdn::Problem& b) {
  return a.h_qk == b.h_qk && a.h_v == b.h_v && a.k_dim == b.k_dim && a.v_dim == b.v_dim &&
         a.qkv_dtype == b.qkv_dtype;
}

double problem_distance(const gdn::Problem& a, const gdn::Problem& b) {
  return qla_tuned::detail::size_distance(a.valid_tokens(), a.num_sequences(), a.longest_sequence(),
                                          b.valid_tokens(), b.num_sequences(),
                                          b.longest_sequence());
}

Lookup::Lookup(DeviceFingerprint device) : device_(std::move(device)) {}

void Lookup::add_kernel(const Store& store, const KernelIdentity& kernel, const SpaceDecl& space,
                        Heuristic heuristic) {
  add_kernel(kernel, space, std::move(heuristic));
  Entry& e = kernels_.at(kernel.kernel);
  for (TunedEntry& t : store.tuned_entries(kernel))
    if (space.contains(t.values)) e.tuned.push_back(std::move(t));
}

void Lookup::add_kernel(const KernelIdentity& kernel, const SpaceDecl& space, Heuristic heuristic) {
  auto it = kernels_.find(kernel.kernel);
  if (it == kernels_.end())
    kernels_.emplace(kernel.kernel, Entry{kernel, space, std::move(heuristic), {}});
}

LookupResult Lookup::find(const std::string& kernel, const gdn::Problem& problem) const {
  const auto it = kernels_.find(kernel);
  if (it == kernels_.end()) throw UserError("lookup: unknown kernel '" + kernel + "'");
  const Entry& e = it->second;
  const std::string key = problem_key(problem);
  const std::string digest = device_.digest();

  // Best candidate per tier; ties go to the earlier entry (ordered by device digest, then problem
  // key).
  const TunedEntry* best[2] = {nullptr, nullptr};  // [0] this device, [1] same arch elsewhere
  double best_d[2] = {std::numeric_limits<double>::infinity(),
                      std::numeric_limits<double>::infinity()};
  for (const TunedEntry& t : e.tuned) {
    int tier;
    if (t.device_digest == digest)
      tier = 0;
    else if (t.cc_major == device_.cc_major && t.cc_minor == device_.cc_minor)
      tier = 1;
    else
      continue;
    if (!same_class(t.problem_value, problem)) continue;
    const double d = t.problem == key ? 0.0 : problem_distance(t.problem_value, problem);
    // An exact key beats a different problem at the same distance (e.g. flags differ).
    const bool exact = t.problem == key;
    const bool best_exact = best[tier] && best[tier]->problem == key;
    if (d < best_d[tier] || (d == best_d[tier] && exact && !best_exact)) {
      best[tier] = &t;
      best_d[tier] = d;
    }
  }
  for (int tier = 0; tier < 2; ++tier) {
    if (!best[tier]) continue;
    const TunedEntry& t = *best[tier];
    LookupResult r;
    r.config = t.values;
    r.provenance = tier == 1 ? Provenance::kSameArch
                             : (t.problem == key ? Provenance::kExact : Provenance::kNearest);
    r.distance = t.problem == key ? 0.0 : best_d[tier];
    r.device = t.device_name;
    r.problem = t.problem;
    r.measured_us = t.median_us;
    return r;
  }
  LookupResult r;
  r.config = e.heuristic ? e.heuristic(problem) : e.space.default_point;
  if (!e.space.contains(r.config)) r.config = e.space.default_point;
  return r;
}

ConfigHook make_config_hook(std::shared_ptr<const Lookup> lookup) {
  return [lookup = std::move(lookup)](const std::string& kernel, const gdn::Problem& problem,
                                      const ArchInfo&) -> std::optional<Point> {
    try {
      return lookup->find(kernel, problem).config;
    } catch (const UserError&) {
      return std::nullopt;
    }
  };
}

}  // namespace qla::tuner
