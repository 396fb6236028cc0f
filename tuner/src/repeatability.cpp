#include "qla/tuner/repeatability.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "qla/error.hpp"

namespace qla::tuner {
namespace {

/// A winner's identity, in the order rows are listed: kernel, problem, device, source, space.
using WinnerKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;

WinnerKey key_of(const nlohmann::json& row) {
  return {row.at("kernel").get<std::string>(), row.at("problem").get<std::string>(),
          row.at("device").get<std::string>(), row.at("source_hash").get<std::string>(),
          row.at("space_hash").get<std::string>()};
}

nlohmann::json key_json(const WinnerKey& k) {
  return {{"kernel", std::get<0>(k)},
          {"problem", std::get<1>(k)},
          {"device", std::get<2>(k)},
          {"source_hash", std::get<3>(k)},
          {"space_hash", std::get<4>(k)}};
}

/// One store's winners by identity, and its ok trials' medians by identity and config.
struct Indexed {
  std::map<WinnerKey, const nlohmann::json*> winners;
  std::map<std::pair<WinnerKey, std::string>, double> ok_median;

  std::optional<double> measured(const WinnerKey& k, const std::string& config) const {
    const auto it = ok_median.find({k, config});
    if (it == ok_median.end()) return std::nullopt;
    return it->second;
  }
};

Indexed index(const nlohmann::json& doc, const std::string& path) {
  Indexed ix;
  for (const nlohmann::json& w : doc.at("winners")) {
    const nlohmann::json& m = w.at("median_us");
    QLA_REQUIRE(m.is_number() && std::isfinite(m.get<double>()) && m.get<double>() > 0,
                path << ": the winner of " << w.at("kernel").get<std::string>() << " on "
                     << w.at("problem").get<std::string>()
                     << " has no positive median (damaged store)");
    ix.winners.emplace(key_of(w), &w);
  }
  for (const nlohmann::json& t : doc.at("trials")) {
    const auto m = t.find("median_us");
    if (t.at("status") != "ok" || m == t.end() || !m->is_number()) continue;
    ix.ok_median.emplace(std::make_pair(key_of(t), t.at("config").get<std::string>()),
                         m->get<double>());
  }
  return ix;
}

nlohmann::json store_json(const nlohmann::json& doc, const std::string& path) {
  nlohmann::json runs = nlohmann::json::array();
  for (const nlohmann::json& r : doc.at("runs"))
    runs.push_back({{"args", r.at("args")},
                    {"git_commit", r.at("git_commit")},
                    {"started_at", r.at("started_at")},
                    {"ended_at", r.at("ended_at")}});
  return {{"path", path}, {"runs", runs}};
}

nlohmann::json only_in(const Indexed& self, const Indexed& other) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [k, w] : self.winners) {
    if (other.winners.count(k)) continue;
    nlohmann::json row = key_json(k);
    row["config"] = w->at("config");
    row["median_us"] = w->at("median_us");
    out.push_back(std::move(row));
  }
  return out;
}

nlohmann::json optional_json(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json compare_winners(const nlohmann::json& export_a, const std::string& path_a,
                               const nlohmann::json& export_b, const std::string& path_b,
                               double tolerance) {
  QLA_REQUIRE(std::isfinite(tolerance) && tolerance >= 0,
              "tolerance: must be a number >= 0, got " << tolerance);
  const Indexed a = index(export_a, path_a);
  const Indexed b = index(export_b, path_b);

  nlohmann::json rows = nlohmann::json::array();
  std::size_t same = 0, noise = 0, differs = 0;
  for (const auto& [k, wa] : a.winners) {
    const auto it = b.winners.find(k);
    if (it == b.winners.end()) continue;
    const nlohmann::json& wb = *it->second;
    const std::string config_a = wa->at("config").get<std::string>();
    const std::string config_b = wb.at("config").get<std::string>();
    const double us_a = wa->at("median_us").get<double>();
    const double us_b = wb.at("median_us").get<double>();
    const double spread = std::abs(us_a - us_b) / std::min(us_a, us_b);
    const std::optional<double> a_on_b = a.measured(k, config_b);
    const std::optional<double> b_on_a = b.measured(k, config_a);
    const bool same_config = config_a == config_b;
    const char* verdict = kDiffers;
    if (same_config) {
      verdict = kSameConfig;
      ++same;
    } else if (spread <= tolerance && (!a_on_b || *a_on_b <= us_a * (1 + tolerance)) &&
               (!b_on_a || *b_on_a <= us_b * (1 + tolerance))) {
      verdict = kWithinNoise;
      ++noise;
    } else {
      ++differs;
    }
    nlohmann::json row = key_json(k);
    row["config_a"] = config_a;
    row["median_us_a"] = us_a;
    row["config_b"] = config_b;
    row["median_us_b"] = us_b;
    row["same_config"] = same_config;
    row["spread"] = spread;
    row["a_on_b"] = optional_json(a_on_b);
    row["b_on_a"] = optional_json(b_on_a);
    row["verdict"] = verdict;
    rows.push_back(std::move(row));
  }
  QLA_REQUIRE(!rows.empty(), path_a << " (" << a.winners.size() << " winners) and " << path_b
                                    << " (" << b.winners.size()
                                    << " winners) have no winner in common (same device, kernel, "
                                       "source hash, space hash and problem)");

  const nlohmann::json in_a = only_in(a, b), in_b = only_in(b, a);
  return {{"schema", kRepeatabilitySchema},
          {"tolerance", tolerance},
          {"stores", {store_json(export_a, path_a), store_json(export_b, path_b)}},
          {"rows", rows},
          {"only_in_a", in_a},
          {"only_in_b", in_b},
          {"summary",
           {{"compared", rows.size()},
            {"same_config", same},
            {"within_noise", noise},
            {"differs", differs},
            {"only_in_a", in_a.size()},
            {"only_in_b", in_b.size()}}}};
}

nlohmann::json compare_stores(const Store& a, const Store& b, double tolerance) {
  return compare_winners(a.export_json(), a.path(), b.export_json(), b.path(), tolerance);
}

std::string repeatability_table(const nlohmann::json& doc) {
  const auto us = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return std::string(buf);
  };
  const auto pct = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", 100 * v);
    return std::string(buf);
  };
  std::vector<std::vector<std::string>> cells{
      {"kernel", "problem", "winner A", "A us", "winner B", "B us", "spread %", "verdict"}};
  for (const nlohmann::json& r : doc.at("rows"))
    cells.push_back({r.at("kernel").get<std::string>(), r.at("problem").get<std::string>(),
                     r.at("config_a").get<std::string>(), us(r.at("median_us_a").get<double>()),
                     r.at("config_b").get<std::string>(), us(r.at("median_us_b").get<double>()),
                     pct(r.at("spread").get<double>()), r.at("verdict").get<std::string>()});
  // Text columns are left-aligned, numbers right-aligned; the verdict, last, is not padded.
  constexpr bool kNumeric[] = {false, false, false, true, false, true, true, false};
  std::vector<std::size_t> width(cells[0].size(), 0);
  for (const auto& row : cells)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::string out;
  for (const auto& row : cells) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string pad(width[i] - row[i].size(), ' ');
      if (i + 1 == row.size()) {
        out += row[i];
      } else {
        out += kNumeric[i] ? pad + row[i] : row[i] + pad;
        out += "  ";
      }
    }
    out += '\n';
  }
  const nlohmann::json& s = doc.at("summary");
  char line[256];
  std::snprintf(line, sizeof line,
                "%zu compared: %zu same config, %zu within noise, %zu differ (tolerance %.1f %%); "
                "%zu only in A, %zu only in B\n",
                s.at("compared").get<std::size_t>(), s.at("same_config").get<std::size_t>(),
                s.at("within_noise").get<std::size_t>(), s.at("differs").get<std::size_t>(),
                100 * doc.at("tolerance").get<double>(), s.at("only_in_a").get<std::size_t>(),
                s.at("only_in_b").get<std::size_t>());
  return out + line;
}

}  // namespace qla::tuner
