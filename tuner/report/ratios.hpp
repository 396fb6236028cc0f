// The cells and ratios the report's tables are made of: times, qla's time ("ours") beside a
// baseline's, and their geomeans over a table's shapes.
#pragma once

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "report_data.hpp"

namespace qla::report {

/// A table's rows: shape → implementation → time.
using Rows = std::map<Shape, std::map<std::string, Timing>>;

/// printf of one number.
std::string fmt(const char* f, double v);
/// `impl`'s time in ms ("0.125"), "–" without one.
std::string ms_cell(const std::map<std::string, Timing>& t, const std::string& impl);
/// The time the page calls "ours": the tuned configs where measured, else the defaults.
const Timing* ours(const std::map<std::string, Timing>& t);
/// baseline / ours ("2.00x"), "–" without both.
std::string ratio_cell(const std::map<std::string, Timing>& t, const std::string& baseline);

/// baseline / ours over the shapes of `rows` that have both times.
struct RatioStats {
  std::size_t n = 0;
  double geomean = 0, lo = 0, hi = 0;
  Shape lo_shape;            ///< where the ratio is lo: the closest shape
  std::size_t faster = 0;    ///< shapes where ours is faster
  std::size_t faster_5 = 0;  ///< shapes where ours is 1.05x or more faster
};
RatioStats ratio_stats(const Rows& rows, const std::string& baseline);
/// "1.73x (1.50x–2.00x)": the geomean and the range.
std::string geomean_range(const RatioStats& st);
/// One line over the table's shapes that have both times: the geomean of baseline / ours, its
/// range, and on how many ours is faster; empty when no shape has both.
std::string ratio_summary(const Rows& rows, const std::string& baseline, const char* label);
/// What tuning bought on the table's shapes that have both qla times (the untuned op's over the
/// tuned plan's, one call): the geomean, its range, and on how many the tuned plan is 1.05x or
/// more faster; empty when no shape has both.
std::string tuning_summary(const Rows& rows);
/// The rows of each head configuration ("2/8"), in the rows' order (they sort by heads).
std::vector<std::pair<std::string, Rows>> by_heads(const Rows& rows);
/// A baseline's name as the page writes it ("fla" → "FLA").
std::string baseline_label(const std::string& impl);
/// One line per document of `docs`: "- `path (implementation, date, qla commit)`: its method".
void document_list(std::ostringstream& os, const BenchDocuments& docs);
/// The implementations of `rows` other than qla's own ("qla-tuned", "qla-default", "qla:…").
std::set<std::string> baselines_of(const Rows& rows);

}  // namespace qla::report
