// One declaration per kernel family: a constexpr table of axes (name, label, the Config member it
// sets, values, doc), from which everything else is derived: the SpaceDecl the tuner searches,
// point ⇄ Config conversion by axis name, the compile-time membership test the generated header
// static_asserts, and the family's registration in the kernel catalog. Plain C++17, no CUDA.
//
// A family is a trait type:
//
//   struct KktSolveFamily {
//     using Config = KktSolveConfig;                       // an aggregate of int fields, defaults
//     = default point static constexpr const char* kId = "gdn.kkt_solve";  // stable id (store,
//     header, CLI) static constexpr const char* kRole = "ut_prep";      // the op role it can fill
//     (plan.hpp) static constexpr const char* kVariant = "mma";       // the mechanism: mma, ws,
//     wgmma, simt, ... static constexpr AxisDecl<Config> kAxes[] = {axis("chunk", "c",
//     &Config::chunk, kValues, "doc"), ...}; static constexpr Config kAot[] = {Config{}}; // points
//     nvcc builds into the library static bool buildable(const Config&, const ArchInfo&); // fits
//     the target (smem, features) static std::vector<cuda::KernelSpec> specs(const Config&); // one
//     per dtype instantiation
//   };
//
// Points are vectors of values in the order of kAxes (that is what the store and the header hold);
// code reads a point's values through its Config or by axis name (value_of), never by position.
#pragma once

#include <array>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "qla/error.hpp"
#include "qla/space.hpp"

namespace qla {

/// One tunable axis of a family's Config.
template <typename Config>
struct AxisDecl {
  const char* name;     ///< e.g. "block_v"
  const char* label;    ///< label prefix, e.g. "bv" → "bv64"
  int Config::*member;  ///< the field of Config the axis sets
  const int* values;    ///< allowed values, in the order the searcher walks them
  std::size_t count;    ///< number of values
  const char* doc;      ///< one line: what the axis controls and its unit

  constexpr bool contains(int v) const {
    for (std::size_t i = 0; i < count; ++i)
      if (values[i] == v) return true;
    return false;
  }
};

/// An AxisDecl over a constexpr value array.
template <typename Config, std::size_t N>
constexpr AxisDecl<Config> axis(const char* name, const char* label, int Config::*member,
                                const int (&values)[N], const char* doc) {
  return {name, label, member, values, N, doc};
}

namespace detail {
template <typename F, typename = void>
struct IsRuntime : std::false_type {};
template <typename F>
struct IsRuntime<F, std::void_t<decltype(F::kRuntime)>> : std::bool_constant<F::kRuntime> {};
template <typename F, typename = void>
struct HasDefault : std::false_type {};
template <typename F>
struct HasDefault<F, std::void_t<decltype(F::kDefault)>> : std::true_type {};
}  // namespace detail

/// F's default config: F::kDefault where the family declares one (variants sharing a role's
/// Config), else Config{}.
template <typename F>
constexpr typename F::Config default_config() {
  if constexpr (detail::HasDefault<F>::value) {
    return F::kDefault;
  } else {
    return typename F::Config{};
  }
}

/// Number of axes of family F.
template <typename F>
constexpr std::size_t axis_count() {
  return std::size(
      F::kAxes);  // kAxes is a C array, or a std::array (empty for a family without axes)
}

/// Whether every field of `c` is one of its axis' values (no buildable check). Compile-time.
template <typename F>
constexpr bool in_space(const typename F::Config& c) {
  if constexpr (axis_count<F>() > 0) {
    for (const auto& a : F::kAxes)
      if (!a.contains(c.*(a.member))) return false;
  }
  return true;
}

/// The same for values in axis order, as the generated header's rows hold them. Compile-time.
template <typename F, std::size_t N>
constexpr bool in_space_values(const int (&values)[N]) {
  static_assert(N == axis_count<F>(), "one value per axis");
  for (std::size_t i = 0; i < N; ++i)
    if (!F::kAxes[i].contains(values[i])) return false;
  return true;
}

/// The Config of values in axis order, without checking membership. Compile-time.
template <typename F, std::size_t N>
constexpr typename F::Config config_of(const int (&values)[N]) {
  static_assert(N == axis_count<F>(), "one value per axis");
  typename F::Config c = default_config<F>();
  for (std::size_t i = 0; i < N; ++i) c.*(F::kAxes[i].member) = values[i];
  return c;
}

/// The point (values in axis order) of `c`.
template <typename F>
Point to_point(const typename F::Config& c) {
  Point p;
  if constexpr (axis_count<F>() > 0) {
    p.reserve(axis_count<F>());
    for (const auto& a : F::kAxes) p.push_back(c.*(a.member));
  }
  return p;
}

/// Whether F declares runtime knobs (`static constexpr bool kRuntime = true`: an op plan, nothing
/// to compile).
template <typename F>
constexpr bool is_runtime() {
  return detail::IsRuntime<F>::value;
}

/// The Config of a point (fields without an axis keep the family's default); UserError when `p` is
/// not a point of F's axes.
template <typename F>
typename F::Config from_point(const Point& p) {
  QLA_REQUIRE(p.size() == axis_count<F>(), "not a point of " << F::kId << ": " << p.size()
                                                             << " values for " << axis_count<F>()
                                                             << " axes");
  typename F::Config c = default_config<F>();
  if constexpr (axis_count<F>() > 0) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      const auto& a = F::kAxes[i];
      QLA_REQUIRE(a.contains(p[i]), "not a point of " << F::kId << ": " << a.name << " = " << p[i]);
      c.*(a.member) = p[i];
    }
  }
  return c;
}

/// Family F's space: its axes, the default point (default_config<F>()), and buildable through
/// F::buildable.
template <typename F>
const SpaceDecl& space_of() {
  static_assert(in_space<F>(default_config<F>()),
                "the default config must lie in the declared axes");
  static const SpaceDecl space = [] {
    SpaceDecl s;
    s.kernel = F::kId;
    s.runtime = is_runtime<F>();
    for (const auto& a : F::kAxes)
      s.axes.push_back({a.name, a.label, std::vector<int>(a.values, a.values + a.count), a.doc});
    s.default_point = to_point<F>(default_config<F>());
    s.buildable = [](const Point& p, const ArchInfo& arch) {
      return F::buildable(from_point<F>(p), arch);
    };
    return s;
  }();
  return space;
}

/// The value of axis `name` in point `p` of `space`; UserError when the space has no such axis.
int value_of(const SpaceDecl& space, const Point& p, std::string_view name);

/// `p` with axis `name` set to `value` (which must be one of the axis' values).
Point with_value(const SpaceDecl& space, Point p, std::string_view name, int value);

}  // namespace qla
