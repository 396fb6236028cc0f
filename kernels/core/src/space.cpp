#include "qla/space.hpp"

#include <algorithm>

#include "qla/error.hpp"
#include "qla/family.hpp"
#include "qla/hash.hpp"

namespace qla {
namespace {

// The space hash's own encoding (stored in every tuning store: never change it): strings with their
// terminating NUL as the separator, integers as their 8 native bytes.
struct SpaceHash {
  Fnv1a f;
  void str(const std::string& s) { f.bytes(s.data(), s.size() + 1); }
  void integer(std::int64_t v) { f.bytes(&v, sizeof v); }
};

}  // namespace

bool SpaceDecl::contains(const Point& p) const { return coords_of(p).has_value(); }

Point SpaceDecl::point_at(const std::vector<int>& idx) const {
  Point p(axes.size());
  for (std::size_t a = 0; a < axes.size(); ++a)
    p[a] = axes[a].values.at(static_cast<std::size_t>(idx.at(a)));
  return p;
}

std::optional<std::vector<int>> SpaceDecl::coords_of(const Point& p) const {
  if (p.size() != axes.size()) return std::nullopt;
  std::vector<int> idx(axes.size());
  for (std::size_t a = 0; a < axes.size(); ++a) {
    const auto& v = axes[a].values;
    auto it = std::find(v.begin(), v.end(), p[a]);
    if (it == v.end()) return std::nullopt;
    idx[a] = static_cast<int>(it - v.begin());
  }
  return idx;
}

Point SpaceDecl::point_at_flat(std::size_t i) const {
  std::vector<int> idx(axes.size());
  for (std::size_t a = axes.size(); a-- > 0;) {
    idx[a] = static_cast<int>(i % axes[a].values.size());
    i /= axes[a].values.size();
  }
  return point_at(idx);
}

std::vector<Point> SpaceDecl::enumerate(const ArchInfo* arch) const {
  std::vector<Point> out;
  for (std::size_t i = 0, n = size(); i < n; ++i) {
    Point p = point_at_flat(i);
    if (!arch || is_buildable(p, *arch)) out.push_back(std::move(p));
  }
  return out;
}

std::string SpaceDecl::label(const Point& p) const {
  std::string s;
  for (std::size_t a = 0; a < axes.size() && a < p.size(); ++a) {
    if (a) s += '.';
    s += axes[a].label + std::to_string(p[a]);
  }
  return s;
}

std::optional<Point> SpaceDecl::parse(const std::string& text) const {
  if (axes.empty())
    return text.empty() ? std::optional<Point>(Point{}) : std::nullopt;  // the one point, ""
  Point p;
  std::size_t pos = 0;
  for (std::size_t a = 0; a < axes.size(); ++a) {
    const std::size_t end = std::min(text.find('.', pos), text.size());
    const std::string part = text.substr(pos, end - pos);
    const std::string& prefix = axes[a].label;
    if (part.size() <= prefix.size() || part.compare(0, prefix.size(), prefix) != 0)
      return std::nullopt;
    const std::string digits = part.substr(prefix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        digits.size() > 9)
      return std::nullopt;
    p.push_back(std::stoi(digits));
    pos = end + 1;
    if (end == text.size() && a + 1 < axes.size()) return std::nullopt;
  }
  if (pos <= text.size()) return std::nullopt;  // trailing text after the last axis
  if (!contains(p)) return std::nullopt;
  return p;
}

std::uint64_t SpaceDecl::hash() const {
  SpaceHash f;
  f.str(kernel);
  f.integer(runtime ? 1 : 0);
  for (const auto& a : axes) {
    f.str(a.name);
    f.str(a.label);
    f.integer(static_cast<std::int64_t>(a.values.size()));
    for (int v : a.values) f.integer(v);
  }
  for (int v : default_point) f.integer(v);
  return f.f.value();
}

namespace {
std::size_t axis_index(const SpaceDecl& space, std::string_view name) {
  for (std::size_t a = 0; a < space.axes.size(); ++a)
    if (space.axes[a].name == name) return a;
  throw UserError(space.kernel + " has no axis '" + std::string(name) + "'");
}
}  // namespace

int value_of(const SpaceDecl& space, const Point& p, std::string_view name) {
  const std::size_t a = axis_index(space, name);
  QLA_REQUIRE(a < p.size(), "not a point of " << space.kernel);
  return p[a];
}

Point with_value(const SpaceDecl& space, Point p, std::string_view name, int value) {
  const std::size_t a = axis_index(space, name);
  QLA_REQUIRE(a < p.size(), "not a point of " << space.kernel);
  const auto& v = space.axes[a].values;
  QLA_REQUIRE(std::find(v.begin(), v.end(), value) != v.end(),
              space.kernel << ": " << value << " is not a value of axis " << name);
  p[a] = value;
  return p;
}

ArchInfo ArchInfo::named(std::string_view target) {
  std::string t(target);
  if (t.rfind("sm_", 0) == 0) t = t.substr(3);
  const bool arch_specific = !t.empty() && t.back() == 'a';
  if (arch_specific) t.pop_back();
  struct Known {
    const char* cc;
    int major, minor, smem;
  };
  // Shared memory a block may opt in to, per the CUDA programming guide's table of technical
  // specifications.
  static constexpr Known kKnown[] = {
      {"80", 8, 0, 166912}, {"86", 8, 6, 101376},   {"87", 8, 7, 166912},  {"89", 8, 9, 101376},
      {"90", 9, 0, 232448}, {"100", 10, 0, 232448}, {"120", 12, 0, 101376}};
  for (const Known& k : kKnown) {
    if (t != k.cc || (arch_specific && !(k.major == 9 && k.minor == 0))) continue;
    ArchInfo a;
    a.cc_major = k.major;
    a.cc_minor = k.minor;
    a.smem_per_block_optin = k.smem;
    a.regs_per_sm = 65536;
    return a;
  }
  throw UserError("unknown compilation target '" + std::string(target) +
                  "' (sm_80, sm_86, sm_87, sm_89, sm_90a, "
                  "sm_100, sm_120)");
}

}  // namespace qla
