// The declaration of a configuration space: the one place a kernel family's tunable axes are
// written down. Plain C++17. The tuner searches it, the tests enumerate it, the bench reads its
// default, and the generated header static_asserts against it.
//
// A point of the space holds one *value* per axis (not an index), in axis order. The searcher works
// on integer coordinates (indices into each axis' values) and converts through `point_at`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qla {

/// What a config must fit on: read off the device in use (cuda::current_device), or a named
/// compilation target (ArchInfo::named, e.g. for NVRTC in CI). Default-constructed it is an unknown
/// target on which nothing builds: there is no silent default card.
struct ArchInfo {
  int cc_major = 0;  ///< compute capability; 0 = unknown
  int cc_minor = 0;
  int sm_count = 0;              ///< SMs; 0 for a named target (no card)
  int smem_per_block_optin = 0;  ///< bytes a block may opt in to (227 KB on Hopper)
  int regs_per_sm = 0;
  int l2_bytes = 0;  ///< 0 for a named target

  /// The per-block limits of a compilation target: "sm_80", "sm_86", "sm_87", "sm_89", "sm_90",
  /// "sm_90a", "sm_100", "sm_120" (also without "sm_"). sm_count and l2_bytes stay 0. UserError for
  /// another name.
  static ArchInfo named(std::string_view target);
  /// "sm_90a" for 9.0 (arch-specific features), "sm_XY" otherwise.
  std::string sm_name() const {
    std::string s = "sm_" + std::to_string(cc_major) + std::to_string(cc_minor);
    return cc_major == 9 && cc_minor == 0 ? s + "a" : s;
  }
  // Feature predicates: what a config's buildable() asks of a target, never its name. The
  // arch-specific (sm_90a) features exist on compute capability 9.0 only; TMA and clusters on 9.0
  // and newer.
  /// setmaxnreg (moving registers between warpgroups): sm_90a.
  bool has_setmaxnreg() const { return cc_major == 9 && cc_minor == 0; }
  /// wgmma.mma_async (warpgroup tensor-core MMA from shared memory or registers): sm_90a.
  bool has_wgmma() const { return cc_major == 9 && cc_minor == 0; }
  /// The Tensor Memory Accelerator (cp.async.bulk.tensor with tensor maps): sm_90 and newer.
  bool has_tma() const { return cc_major >= 9; }
  /// Thread-block clusters and distributed shared memory: sm_90 and newer.
  bool has_clusters() const { return cc_major >= 9; }
};

/// One tunable axis: a name ("bv"), the label prefix used in config labels ("bv"), and its allowed
/// values.
struct Axis {
  std::string name;         ///< e.g. "block_v"
  std::string label;        ///< e.g. "bv" → label part "bv64"
  std::vector<int> values;  ///< allowed values, in the order the searcher walks them
  std::string doc;          ///< one line: what the axis controls and its unit
};

/// A configuration as values, one per axis in axis order.
using Point = std::vector<int>;

/// A kernel family's (or an op plan's) configuration space.
struct SpaceDecl {
  std::string kernel;  ///< stable id, e.g. "gdn.fused_fwd"
  std::vector<Axis> axes;
  Point default_point;   ///< the config used when nothing was tuned
  bool runtime = false;  ///< true: knobs that need no recompilation (plan axes)
  /// Build-time validity on an arch (shared memory, registers, divisibility); empty = always
  /// buildable.
  std::function<bool(const Point&, const ArchInfo&)> buildable;

  /// Product of the axes' sizes (before the buildable filter).
  std::size_t size() const {
    std::size_t n = 1;
    for (const auto& a : axes) n *= a.values.size();
    return n;
  }
  bool is_buildable(const Point& p, const ArchInfo& arch) const {
    return !buildable || buildable(p, arch);
  }
  /// Whether every value of `p` is one of its axis' values.
  bool contains(const Point& p) const;
  /// Point of the coordinate vector `idx` (one index per axis).
  Point point_at(const std::vector<int>& idx) const;
  /// Coordinates of `p`; nullopt when p is not in the space.
  std::optional<std::vector<int>> coords_of(const Point& p) const;
  /// Point of the flat index i in [0, size()), last axis fastest.
  Point point_at_flat(std::size_t i) const;
  /// Every point, last axis fastest; with `arch`, only the buildable ones.
  std::vector<Point> enumerate(const ArchInfo* arch = nullptr) const;
  /// "c64.bv64.s2.w16": each axis' label followed by its value, joined by '.'.
  std::string label(const Point& p) const;
  /// Inverse of label(); nullopt when the text is not a point of this space.
  std::optional<Point> parse(const std::string& label) const;
  /// Stable 64-bit hash (FNV-1a) of the kernel id, axis names, labels and values, and the default
  /// point.
  std::uint64_t hash() const;
};

}  // namespace qla
