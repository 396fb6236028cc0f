#include "ratios.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace qla::report {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string ms_cell(const std::map<std::string, Timing>& t, const std::string& impl) {
  auto it = t.find(impl);
  return it == t.end() ? "–" : fmt("%.3f", it->second.ms);
}

const Timing* ours(const std::map<std::string, Timing>& t) {
  if (auto it = t.find("qla-tuned"); it != t.end()) return &it->second;
  if (auto it = t.find("qla-default"); it != t.end()) return &it->second;
  return nullptr;
}

std::string ratio_cell(const std::map<std::string, Timing>& t, const std::string& baseline) {
  const Timing* q = ours(t);
  auto it = t.find(baseline);
  if (!q || it == t.end() || q->ms <= 0) return "–";
  return fmt("%.2fx", it->second.ms / q->ms);
}

RatioStats ratio_stats(const Rows& rows, const std::string& baseline) {
  std::vector<double> r;
  std::vector<const Shape*> shapes;
  for (const auto& [s, t] : rows) {
    const Timing* q = ours(t);
    const auto it = t.find(baseline);
    if (q && it != t.end() && q->ms > 0 && it->second.ms > 0) {
      r.push_back(it->second.ms / q->ms);
      shapes.push_back(&s);
    }
  }
  RatioStats st;
  st.n = r.size();
  if (r.empty()) return st;
  double log_sum = 0;
  for (double x : r) log_sum += std::log(x);
  const auto [lo, hi] = std::minmax_element(r.begin(), r.end());
  st.geomean = std::exp(log_sum / static_cast<double>(r.size()));
  st.lo = *lo;
  st.hi = *hi;
  st.lo_shape = *shapes[static_cast<std::size_t>(lo - r.begin())];
  st.faster =
      static_cast<std::size_t>(std::count_if(r.begin(), r.end(), [](double x) { return x > 1; }));
  st.faster_5 = static_cast<std::size_t>(
      std::count_if(r.begin(), r.end(), [](double x) { return x >= 1.05; }));
  return st;
}

std::string geomean_range(const RatioStats& st) {
  return fmt("%.2fx", st.geomean) + " (" + fmt("%.2fx", st.lo) + "–" + fmt("%.2fx", st.hi) + ")";
}

std::string ratio_summary(const Rows& rows, const std::string& baseline, const char* label) {
  const RatioStats st = ratio_stats(rows, baseline);
  if (st.n == 0) return "";
  return std::string(label) + " over " + std::to_string(st.n) + " shape" + (st.n > 1 ? "s" : "") +
         ": geomean " + geomean_range(st) + ", faster on " + std::to_string(st.faster) + " of " +
         std::to_string(st.n) + ".";
}

std::string tuning_summary(const Rows& rows) {
  Rows both;
  for (const auto& [s, t] : rows)
    if (t.count("qla-tuned") && t.count("qla-default")) both.emplace(s, t);
  const RatioStats st = ratio_stats(both, "qla-default");  // "ours" is the tuned time there
  if (st.n == 0) return "";
  return "Tuned over untuned (qla default / qla tuned) over " + std::to_string(st.n) + " shape" +
         (st.n > 1 ? "s" : "") + ": geomean " + geomean_range(st) + ", 1.05x or more on " +
         std::to_string(st.faster_5) + " of " + std::to_string(st.n) + ".";
}

std::vector<std::pair<std::string, Rows>> by_heads(const Rows& rows) {
  std::vector<std::pair<std::string, Rows>> out;
  for (const auto& [s, t] : rows) {
    const std::string heads = std::to_string(s.h_qk) + "/" + std::to_string(s.h_v);
    if (out.empty() || out.back().first != heads) out.emplace_back(heads, Rows{});
    out.back().second.emplace(s, t);
  }
  return out;
}

std::string baseline_label(const std::string& impl) {
  return impl == "fla" ? "FLA" : impl == "flashqla" ? "FlashQLA" : impl;
}

void document_list(std::ostringstream& os, const BenchDocuments& docs) {
  for (std::size_t i = 0; i < docs.sources.size(); ++i) {
    os << "- `" << docs.sources[i] << "`";
    if (i < docs.source_methods.size() && !docs.source_methods[i].empty())
      os << ": " << docs.source_methods[i];
    os << "\n";
  }
}

std::set<std::string> baselines_of(const Rows& rows) {
  std::set<std::string> out;
  for (const auto& [s, t] : rows)
    for (const auto& [impl, timing] : t)
      if (impl.rfind("qla", 0) != 0) out.insert(impl);
  return out;
}

}  // namespace qla::report
