#include "comparison_sets.hpp"

#include "ratios.hpp"

namespace qla::report {
namespace {

/// Per head configuration: the ratio over each baseline (geomean, range, faster) and the closest
/// shape.
void set_heads_table(std::ostringstream& os, const Rows& rows,
                     const std::set<std::string>& baselines) {
  os << "| heads (qk/v) | shapes |";
  for (const auto& b : baselines)
    os << " ×" << baseline_label(b) << ": geomean (range), faster | closest |";
  os << "\n|---|---|";
  for (std::size_t i = 0; i < baselines.size(); ++i) os << "---|---|";
  os << "\n";
  for (const auto& [heads, sub] : by_heads(rows)) {
    os << "| " << heads << " | " << sub.size() << " |";
    for (const auto& b : baselines) {
      const RatioStats st = ratio_stats(sub, b);
      if (st.n == 0)
        os << " – | – |";
      else
        os << " " << geomean_range(st) << ", " << st.faster << " of " << st.n << " | "
           << st.lo_shape.seq_name() << " (" << fmt("%.2fx", st.lo) << ") |";
    }
    os << "\n";
  }
}

/// Every shape's times and ratios, folded.
void set_shape_table(std::ostringstream& os, const Rows& rows,
                     const std::set<std::string>& baselines) {
  os << "<details><summary>Every shape</summary>\n\n"
     << "| heads (qk/v) | tokens | qla tuned ms | qla default ms |";
  for (const auto& b : baselines) os << " " << baseline_label(b) << " ms |";
  for (const auto& b : baselines) os << " ×" << baseline_label(b) << " |";
  os << "\n|---|---|---|---|";
  for (std::size_t i = 0; i < 2 * baselines.size(); ++i) os << "---|";
  os << "\n";
  for (const auto& [s, t] : rows) {
    os << "| " << s.h_qk << "/" << s.h_v << " | " << s.seq_name() << " | "
       << ms_cell(t, "qla-tuned") << " | " << ms_cell(t, "qla-default") << " |";
    for (const auto& b : baselines) os << " " << ms_cell(t, b) << " |";
    for (const auto& b : baselines) os << " " << ratio_cell(t, b) << " |";
    os << "\n";
  }
  os << "\n</details>\n";
}

}  // namespace

// No ratio pairs a row of a set with a row of another set or of the main tables.
void comparison_sets(std::ostringstream& os, const ReportData& d) {
  for (const auto& [name, set] : d.sets) {
    os << "## Same-call comparison `" << name << "`\n\n"
       << "Its rows pair only with each other: qla and each baseline timed in the same runs on the "
          "same inputs, apart from the tables above.\n\n";
    document_list(os, set);
    for (const auto& [mode, rows] : set.timings) {
      const std::set<std::string> baselines = baselines_of(rows);
      os << "\n" << mode << " mode.";
      for (const auto& b : baselines) {
        const std::string label = "×" + baseline_label(b);
        os << " " << ratio_summary(rows, b, label.c_str());
      }
      os << "\n\n";
      set_heads_table(os, rows, baselines);
      os << "\n";
      set_shape_table(os, rows, baselines);
    }
    os << "\n";
  }
}

}  // namespace qla::report
