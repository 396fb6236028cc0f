// How far an output is from its reference: the one definition the tuner's validation gate, the
// bench, the deploy example and the tests use. Sizes must match: comparing a prefix would let a
// missing output pass.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "qla/error.hpp"

namespace qla {

struct ErrorMetrics {
  /// ‖x − ref‖₂ / ‖ref‖₂ over the finite elements of x (∞ when ‖ref‖ = 0 and x ≠ ref).
  double rel_fro = 0;
  double max_abs = 0;  ///< max |x − ref| over the finite elements of x
  std::int64_t non_finite =
      0;  ///< elements of x that are NaN or ±∞ (an unwritten, poisoned output)
  std::int64_t elements = 0;

  /// Every element finite and rel_fro ≤ tolerance.
  bool within(double tolerance) const { return non_finite == 0 && rel_fro <= tolerance; }
};

/// `x` against `ref`, each element read as a double through `value` (e.g. a bf16 bit pattern's
/// value). Throws UserError when the sizes differ.
template <class X, class R, class Value>
ErrorMetrics compare_outputs(const X& x, const R& ref, Value value) {
  QLA_REQUIRE(x.size() == ref.size(), "compare_outputs: " << x.size() << " elements against a "
                                                          << ref.size() << "-element reference");
  ErrorMetrics e;
  e.elements = static_cast<std::int64_t>(x.size());
  double diff2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double a = value(x[i]), b = value(ref[i]);
    if (!std::isfinite(a)) {
      ++e.non_finite;
      continue;
    }
    const double d = a - b;
    diff2 += d * d;
    ref2 += b * b;
    e.max_abs = std::max(e.max_abs, std::abs(d));
  }
  e.rel_fro = ref2 > 0    ? std::sqrt(diff2 / ref2)
              : diff2 > 0 ? std::numeric_limits<double>::infinity()
                          : 0.0;
  return e;
}

/// The same for values already convertible to double.
template <class X, class R>
ErrorMetrics compare_outputs(const X& x, const R& ref) {
  return compare_outputs(x, ref, [](auto v) { return static_cast<double>(v); });
}

}  // namespace qla
