// Runtime lookup of a tuned config. Order:
//   1. exact: the same problem (problem_key) tuned on this device;
//   2. nearest: the closest tuned problem of the same class (H_qk, H_v, K, V, qkv dtype) on this
//      device, by problem_distance: sqrt(Δlog2(valid tokens)² + Δlog2(sequences)² + Δlog2(fill)²),
//      fill = valid tokens / (sequences x the longest sequence), 1 for equal lengths;
//   3. same arch: exact or nearest on another device of the same compute capability;
//   4. heuristic: the caller's rule (FlashQLA's BV/CP rules for the real kernels), else the space's
//   default.
// Only entries of the same kernel id, source hash and space hash are used; configs outside the
// space are ignored. The store is read once when a kernel is added: queries touch no SQLite.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"
#include "qla/tuner/fingerprint.hpp"
#include "qla/tuner/store.hpp"

namespace qla::tuner {

enum class Provenance : std::uint8_t { kExact, kNearest, kSameArch, kHeuristic };

/// "exact", "nearest", "same_arch", "heuristic".
std::string_view provenance_name(Provenance p);

/// A config and where it came from.
struct LookupResult {
  Point config;  ///< values, axis order; always inside the space
  Provenance provenance = Provenance::kHeuristic;
  double distance = 0;  ///< log2-space distance to the measured problem; 0 for exact and heuristic
  std::string device;   ///< device name it was measured on, "" for heuristic
  std::string problem;  ///< problem key it was measured on, "" for heuristic
  double measured_us = 0;  ///< its measured time on that problem, 0 for heuristic
};

/// A rule giving a config without measurements.
using Heuristic = std::function<Point(const gdn::Problem&)>;

class Lookup {
 public:
  /// Looks up for `device`; other devices in `store` serve only the same-arch fallback.
  explicit Lookup(DeviceFingerprint device);
  /// Snapshots the tuned entries of `kernel` from `store` (may be called for several stores:
  /// merged).
  void add_kernel(const Store& store, const KernelIdentity& kernel, const SpaceDecl& space,
                  Heuristic heuristic = {});
  /// Registers a kernel with no store (heuristic only).
  void add_kernel(const KernelIdentity& kernel, const SpaceDecl& space, Heuristic heuristic = {});
  /// The config for `kernel` (a kernel id given to add_kernel) on `problem`. Throws UserError for
  /// an unknown kernel id.
  LookupResult find(const std::string& kernel, const gdn::Problem& problem) const;

 private:
  struct Entry {
    KernelIdentity identity;
    SpaceDecl space;
    Heuristic heuristic;
    std::vector<TunedEntry> tuned;
  };
  DeviceFingerprint device_;
  std::map<std::string, Entry> kernels_;
};

/// The hook an op's planner takes (same signature as qla::gdn::ConfigLookup in plan.hpp, so it can
/// be assigned to PlanOptions::lookup): the config of `kernel` for `problem`, or nullopt to keep
/// the planner's default. `arch` is not consulted: a Lookup already belongs to one device.
using ConfigHook = std::function<std::optional<Point>(
    const std::string& kernel, const gdn::Problem& problem, const ArchInfo& arch)>;

/// A hook answering from `lookup` (kept alive by the hook); nullopt for kernels the lookup does not
/// know.
ConfigHook make_config_hook(std::shared_ptr<const Lookup> lookup);

/// Distance used by the lookup between two problems (of any class), in log2 space: valid tokens,
/// sequences and fill (valid tokens / (sequences x the longest sequence)). The fill tells a packed
/// batch whose longest sequence is the chunk forward's critical path (28672+4096) from an even one
/// of the same size (16384+16384), whose best V-split differs (on the H200, FlashQLA's V-split
/// rule, which splits both alike, took up to 1.56x the tuned time on the uneven ones).
/// qla_tuned::detail::size_distance of the two problems' sizes, the deployment dispatcher's.
double problem_distance(const gdn::Problem& a, const gdn::Problem& b);
/// Whether two problems share the lookup class (H_qk, H_v, K, V, qkv dtype).
bool same_class(const gdn::Problem& a, const gdn::Problem& b);

}  // namespace qla::tuner
