// `qla header`: turns a tuning store into a self-contained C++ header for a deployment build.
// The header holds, per compute capability
// and per kernel, a constexpr table from tuned problem (lookup class + token and sequence counts +
// the store's problem key) to config VALUES, the measured time and the speedup over the default
// beside every row, a dispatcher `qla_tuned::select` with the lookup's fallback order, a
// static_assert per row against the family's constexpr
// `*_in_space` predicate, and `// qla-aot:` lines that cmake/QlaDeploy.cmake compiles ahead of
// time.
//
// What goes in (decided here, documented in README "Deploying tuned configs"):
//   * scope: `device` (a fingerprint digest) → that device is the primary one of its compute
//   capability and the
//     other devices of that capability serve the same-arch fallback; `arch` ("sm_90") → every
//     device of that capability, the one with the most tuned rows (ties: smallest digest) primary;
//     neither → every capability in the store, each with its primary chosen the same way. The
//     dispatcher matches tuner::Lookup exactly when it runs on the primary device.
//   * per kernel, only trials of the family's current space hash count; of their source hashes the
//   one of the
//     newest trial (by created_at) is used, as the store keeps old sources' trials side by side.
//   * rows are Store::tuned_entries (the decided winner, else the best valid trial), in its order.
// Empty store versus no rows:
//   * a store with no trials at all (fresh, or a tune that measured nothing yet) → a valid
//   defaults-only header
//     (kDefaultsOnly = true, a comment says so), so a deployment build can be set up before tuning;
//   * a store that has trials but none usable for the requested device or arch (or, unscoped, none
//   usable at
//     all) → UserError, nothing written: a header silently full of defaults would hide the mistake.
// Output bytes depend only on the store's contents and the options (no wall clock, no absolute temp
// paths).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"
#include "qla/tuner/store.hpp"

namespace qla::tuner {

/// A kernel family the header covers.
struct HeaderKernel {
  const SpaceDecl* space =
      nullptr;           ///< its one declaration (space->kernel is the id, e.g. "gdn.fused_fwd")
  std::string name;      ///< C++ stem: "fused_fwd" → tables kFusedFwdSm90, Selection::fused_fwd
  std::string include;   ///< header declaring `in_space`, e.g. "qla/gdn/fused_fwd.hpp"
  std::string in_space;  ///< constexpr predicate over the values in axis order
  /// The AOT instantiations a tuned row needs beyond what the kernel library already builds (its
  /// default config); empty function or empty result: nothing extra.
  std::function<std::vector<cuda::KernelSpec>(const Point& values, const gdn::Problem& problem)>
      aot_specs;
  /// Axis 0 is the op's shared chunk size C: Selection::tuned_configs() passes on this kernel's row
  /// only when it agrees with the C of the first chunk-sharing kernel with a tuned row (in
  /// `kernels` order), so one plan never mixes chunk sizes. (Each kernel's row is still its own
  /// nearest problem's.)
  bool shares_chunk = false;
};

/// What `qla header` was asked for.
struct HeaderOptions {
  std::string store_name;  ///< the store as printed in the provenance (the --db argument as given)
  std::string device;      ///< fingerprint digest; "" for none
  std::string arch;        ///< "sm_90" (also "sm_90a", "90"); "" for none. Exclusive with `device`.
};

/// The generated text and what it holds.
struct HeaderResult {
  std::string text;
  std::size_t rows = 0;        ///< table rows over all kernels and capabilities
  bool defaults_only = false;  ///< the store held no trials
};

/// Builds the header. Throws UserError (naming --device / --arch / --db) when both scopes are
/// given, the arch is not a known CUDA compute capability, the device is not in the store, or the
/// store has trials but no usable rows in the requested scope.
HeaderResult generate_header(const Store& store, const std::vector<HeaderKernel>& kernels,
                             const HeaderOptions& options);

/// Compute capability of "sm_90", "sm_90a", "90" or "9.0"; UserError naming --arch when the text is
/// not one or not a compute capability CUDA knows.
std::pair<int, int> parse_arch(const std::string& text);

/// Writes `text` to a temporary file beside `path` and renames it over `path`, so readers never see
/// a partial file and a failure leaves `path` as it was. UserError naming `-o` when the directory
/// is not writable.
void write_file_atomically(const std::string& path, const std::string& text);

/// The GDN forward kernels the header covers: the op plan (gdn.fwd_plan) first, then every family
/// that declares a deploy order (qla/cuda/kernel_catalog.hpp), in that order.
std::vector<HeaderKernel> gdn_header_kernels();

}  // namespace qla::tuner
