// The report page (render_markdown) in its order: the bench documents, the environment, the
// correctness record, the forward tables by mode, the comparison sets, accuracy, per-kernel times,
// the chunk step, published numbers and the tuning summary; and the plot digest.
#include "report.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include "comparison_sets.hpp"
#include "ratios.hpp"

namespace qla::report {
namespace {

using nlohmann::json;

/// A table past the headline shapes (FlashQLA's whole matrix): its ratios over the headline shapes
/// alone and over each head configuration, so the page's headline numbers stay the same whatever
/// else was measured. Nothing when every shape is a headline one.
void ratio_breakdown(std::ostringstream& os, const ReportData& d, const Rows& rows) {
  if (d.headline.empty()) return;
  const std::set<Shape> headline(d.headline.begin(), d.headline.end());
  if (std::all_of(rows.begin(), rows.end(), [&](const auto& r) { return headline.count(r.first); }))
    return;
  std::vector<std::pair<std::string, Rows>> subsets(1, {"headline", {}});
  for (const auto& [s, t] : rows)
    if (headline.count(s)) subsets[0].second.emplace(s, t);
  for (auto& group : by_heads(rows)) subsets.push_back(std::move(group));
  const auto cell = [](const RatioStats& st) {
    return st.n == 0 ? std::string("–")
                     : geomean_range(st) + ", " + std::to_string(st.faster) + " of " +
                           std::to_string(st.n) + " faster";
  };
  os << "\n| shapes | count | ×FLA: geomean (range), faster | ×FlashQLA: geomean (range), "
        "faster |\n"
     << "|---|---|---|---|\n";
  for (const auto& [name, sub] : subsets) {
    if (sub.empty()) continue;
    os << "| " << name << " | " << sub.size() << " | " << cell(ratio_stats(sub, "fla")) << " | "
       << cell(ratio_stats(sub, "flashqla")) << " |\n";
  }
}

void shape_table(std::ostringstream& os, const ReportData& d, const Rows& rows) {
  const bool floors = d.copy_gbps > 0 && d.matmul_tflops > 0;
  // FlashQLA's columns appear when its bench ran beside ours (bench/flashqla_bench.py).
  bool flashqla = false;
  for (const auto& [s, t] : rows) flashqla = flashqla || t.count("flashqla") > 0;
  os << "| heads (qk/v) | tokens | qla tuned ms | qla default ms | unfused ms | naive ms | FLA ms "
     << (flashqla ? "| FlashQLA ms " : "") << "| ×FLA |" << (flashqla ? " ×FlashQLA |" : "")
     << " ×unfused | ×naive |" << (floors ? " memory floor | compute floor |" : "") << "\n";
  os << "|---|---|---|---|---|---|---|---|---|---|" << (flashqla ? "---|---|" : "")
     << (floors ? "---|---|" : "") << "\n";
  for (const auto& [s, t] : rows) {
    os << "| " << s.h_qk << "/" << s.h_v << " | " << s.seq_name() << " | "
       << ms_cell(t, "qla-tuned") << " | " << ms_cell(t, "qla-default") << " | "
       << ms_cell(t, "unfused") << " | " << ms_cell(t, "naive") << " | " << ms_cell(t, "fla");
    if (flashqla) os << " | " << ms_cell(t, "flashqla");
    os << " | " << ratio_cell(t, "fla");
    if (flashqla) os << " | " << ratio_cell(t, "flashqla");
    os << " | " << ratio_cell(t, "unfused") << " | " << ratio_cell(t, "naive") << " |";
    if (floors) {
      const Timing* q = ours(t);
      if (q && q->ms > 0) {
        const double mem_ms = compulsory_bytes(s) / (d.copy_gbps * 1e9) * 1e3;
        const double fl_ms = forward_flops(s) / (d.matmul_tflops * 1e12) * 1e3;
        os << ' ' << fmt("%.0f %%", 100 * mem_ms / q->ms) << " | "
           << fmt("%.0f %%", 100 * fl_ms / q->ms) << " |";
      } else {
        os << " – | – |";
      }
    }
    os << "\n";
  }
  // ×FLA and ×FlashQLA summed up: the numbers a headline quotes, from the same rows.
  const std::string fla = ratio_summary(rows, "fla", "×FLA");
  const std::string fq = ratio_summary(rows, "flashqla", "×FlashQLA");
  if (!fla.empty() || !fq.empty())
    os << "\n" << fla << (!fla.empty() && !fq.empty() ? " " : "") << fq << "\n";
  if (const std::string tuned = tuning_summary(rows); !tuned.empty()) os << "\n" << tuned << "\n";
  ratio_breakdown(os, d, rows);
}

/// The o error of every implementation on the bench's own inputs, beside each other (graph rows),
/// when the bench documents carry them: what each time buys in accuracy.
void accuracy_table(std::ostringstream& os, const ReportData& d) {
  const auto it = d.timings.find("graph");
  if (it == d.timings.end()) return;
  const char* impls[] = {"qla-tuned", "qla-default", "fla", "flashqla"};
  std::map<std::string, std::pair<double, double>> range;  // implementation → (min, max)
  std::ostringstream rows;
  for (const auto& [s, t] : it->second) {
    bool any = false;
    std::ostringstream row;
    row << "| " << s.h_qk << "/" << s.h_v << " | " << s.seq_name() << " |";
    for (const char* impl : impls) {
      const auto f = t.find(impl);
      if (f == t.end() || f->second.o_error < 0) {
        row << " – |";
        continue;
      }
      const double e = f->second.o_error;
      any = true;
      row << ' ' << fmt("%.2e", e) << " |";
      auto [r, fresh] = range.try_emplace(impl, e, e);
      if (!fresh) r->second = {std::min(r->second.first, e), std::max(r->second.second, e)};
    }
    if (any) rows << row.str() << "\n";
  }
  if (rows.str().empty()) return;
  os << "## Accuracy on the bench's inputs (CUDA-graph rows)\n\n"
     << "Relative Frobenius error of o against qla's naive fp32 recurrence on the inputs each time "
        "was measured with (the correctness section's bar is against float64 on the edge "
        "cases).\n\n"
     << "| heads (qk/v) | tokens | qla tuned | qla default | FLA | FlashQLA |\n"
     << "|---|---|---|---|---|---|\n"
     << rows.str() << "\n";
  const char* sep = "";
  for (const char* impl : impls)
    if (const auto r = range.find(impl); r != range.end()) {
      os << sep << impl << " " << fmt("%.1e", r->second.first) << "–"
         << fmt("%.1e", r->second.second);
      sep = "; ";
    }
  os << ".\n\n";
}

/// Where each plan's time goes: the per-kernel CUPTI times of the rows of the time the page calls
/// "ours", one table per mode whose rows carry them (graph: mean per call over the replays, the
/// headline method; cold: medians with the L2 scrubbed before every call).
void kernel_table(std::ostringstream& os, const ReportData& d) {
  for (const char* mode : {"graph", "cold"}) {
    const auto it = d.timings.find(mode);
    if (it == d.timings.end()) continue;
    std::ostringstream rows;
    for (const auto& [s, t] : it->second) {
      const Timing* q = ours(t);
      if (!q || q->kernels_us.empty()) continue;
      rows << "| " << s.h_qk << "/" << s.h_v << " | " << s.seq_name() << " | "
           << (t.count("qla-tuned") ? "tuned" : "default") << " | " << fmt("%.3f", q->ms) << " | ";
      const char* sep = "";
      for (const auto& [name, us] : q->kernels_us) {
        std::string shown = name;
        if (const std::size_t k = shown.rfind("_kernel");
            k != std::string::npos && k + 7 == shown.size())
          shown.resize(k);
        rows << sep << shown << " " << fmt("%.0f", us);
        sep = " · ";
      }
      rows << " |\n";
    }
    if (rows.str().empty()) continue;
    os << (std::string(mode) == "graph"
               ? "## Where the time goes (CUDA-graph mode, per-kernel CUPTI time per call, mean "
                 "over the replays, µs, launch order)\n\n"
                 "Where kernels are chained by programmatic dependent launch, each starts before "
                 "its predecessor ends and waits for it, so its time includes that wait and the "
                 "times can sum past the call's.\n\n"
               : "## Where the time goes (cold mode, per-kernel medians from CUPTI, µs, launch "
                 "order)\n\n")
       << "| heads (qk/v) | tokens | plan | ms | kernels |\n|---|---|---|---|---|\n"
       << rows.str() << "\n";
  }
}

/// Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS[...]" (UTC); nullopt when unparsable.
std::optional<long long> iso_seconds(const std::string& s) {
  int y, mo, d, h, mi, se;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &se) != 6 &&
      std::sscanf(s.c_str(), "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &se) != 6)
    return std::nullopt;
  // Days from civil (Howard Hinnant's algorithm).
  y -= mo <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const long long yoe = y - era * 400;
  const long long doy = (153LL * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (era * 146097 + doe - 719468) * 86400LL + h * 3600LL + mi * 60LL + se;
}

}  // namespace

double compulsory_bytes(const Shape& s) {
  const double t = double(s.tokens()), n = double(s.seqlens.size()), d = 128;
  return 2 * t * s.h_qk * d * 2        // q, k bf16
         + 2 * t * s.h_v * d * 2       // v in, o out, bf16
         + 2 * t * s.h_v * 4           // g, beta fp32
         + 2 * n * s.h_v * d * d * 4;  // h0 in, final state out, fp32
}

double forward_flops(const Shape& s) {
  double chunks = 0;
  for (long long l : s.seqlens) chunks += double((l + 63) / 64);
  return chunks * s.h_v * (9.437e6 + 1.049e6);
}

std::string slug(const std::string& gpu) {
  std::string out;
  for (char c : gpu) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "unknown-gpu" : out;
}

/// A recorded error of `row`: its value, "non-finite" (recorded as null), or "–" when the suite
/// does not measure that output (no key).
std::string error_cell(const nlohmann::json& row, const char* key) {
  if (!row.contains(key)) return "–";
  const auto& x = row[key];
  return x.is_number() ? fmt("%.2e", x.get<double>()) : "non-finite";
}

namespace {

// The wgmma chunk forward's chunk step from qla_chunk_step_profile's record: per shape, stage count
// and operand type the step time and the SM clock it ran at (records before the clock was measured
// show –), then the state warpgroup's cycles per chunk by phase (the serial chain), and the other
// roles' totals.
void chunk_step_table(std::ostream& os, const ReportData& d) {
  if (!d.chunk_step.is_object()) return;
  const auto& c = d.chunk_step;
  os << "## The chunk step (gdn.fused_fwd_wgmma, cycle probe)\n\n"
     << "From `qla_chunk_step_profile` (`chunk_step.json`, " << c.value("date", "?")
     << ", qla commit `" << c.value("git_commit", "?") << "`): " << c.value("method", "")
     << ".\n\n";
  os << "| heads (qk/v) | tokens | pass | stages | operands | kernel ms | step µs | SM MHz | state "
        "phases (cycles per chunk) | other roles (cycles per chunk) |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : c["rows"]) {
    std::string state, others;
    for (const auto& role : r["role_order"]) {
      const std::string name = role.get<std::string>();
      if (!r["roles"].contains(name)) continue;
      const auto& rr = r["roles"][name];
      double total = 0;
      std::string phases;
      for (const auto& ph : rr.value("phase_order", nlohmann::json::array())) {
        const double cyc = rr["cycles_per_chunk"].value(ph.get<std::string>(), 0.0);
        total += cyc;
        phases += (phases.empty() ? "" : " · ") + ph.get<std::string>() + " " + fmt("%.0f", cyc);
      }
      if (name == "state")
        state = phases + " (" + fmt("%.0f", total) + ")";
      else
        others += (others.empty() ? "" : " · ") + name + " " + fmt("%.0f", total);
    }
    os << "| " << r.value("h_qk", 0) << "/" << r.value("h_v", 0) << " | 1x"
       << r.value("tokens", 0LL) << " | " << r.value("pass", "forward") << " | "
       << r.value("stages", 0) << " | " << r.value("operands", "") << " | "
       << fmt("%.3f", r.value("kernel_ms", 0.0)) << " | " << fmt("%.2f", r.value("step_us", 0.0))
       << " | " << (r.value("sm_mhz", 0.0) > 0 ? fmt("%.0f", r.value("sm_mhz", 0.0)) : "–") << " | "
       << state << " | " << others << " |\n";
  }
  os << "\n";
}

/// Published numbers of other cards and systems, as ratios over FLA measured beside them.
void published_section(std::ostringstream& os, const ReportData& d) {
  if (d.published.empty()) return;
  os << "## Against published numbers (ratios over FLA only)\n\n";
  os << "Numbers published for other cards or systems are compared as speedups over FLA measured "
        "beside them, "
        "never as absolute times.\n\n";
  std::set<std::string> cards;
  for (const auto& kv : d.published) cards.insert(kv.first.first);
  os << "| heads (qk/v) | tokens | qla ×FLA (" << d.gpu << ") |";
  std::vector<std::pair<std::string, std::string>> cols;
  for (const auto& card : cards)
    for (const char* impl : {"flashqla", "flashinfer"})
      if (d.published.count({card, impl}) && d.published.count({card, "fla"})) {
        cols.emplace_back(card, impl);
        os << ' ' << impl << " ×FLA (" << card << ", published) |";
      }
  os << "\n|---|---|---|";
  for (std::size_t i = 0; i < cols.size(); ++i) os << "---|";
  os << "\n";
  std::set<Shape> shapes;
  for (const auto& [key, m] : d.published)
    for (const auto& kv : m) shapes.insert(kv.first);
  for (const auto& s : shapes) {
    std::string mine = "–";
    if (auto g = d.timings.find("graph"); g != d.timings.end()) {
      if (auto it = g->second.find(s); it != g->second.end()) mine = ratio_cell(it->second, "fla");
    }
    os << "| " << s.h_qk << "/" << s.h_v << " | " << s.seq_name() << " | " << mine << " |";
    for (const auto& [card, impl] : cols) {
      const auto& a = d.published.at({card, impl});
      const auto& f = d.published.at({card, "fla"});
      auto ia = a.find(s), jf = f.find(s);
      os << ' ' << (ia != a.end() && jf != f.end() ? fmt("%.2fx", jf->second / ia->second) : "–")
         << " |";
    }
    os << "\n";
  }
  os << "\nSources:\n";
  for (const auto& [card, src] : d.published_sources) os << "- " << card << ": " << src << "\n";
  os << "\n";
}

/// The tuning store: trials by kernel and status, the tuning time, and each kernel and
/// problem's newest winner.
void tuning_section(std::ostringstream& os, const ReportData& d) {
  if (d.store.is_null()) return;
  os << "## Tuning summary\n\n";
  std::map<std::string, std::map<std::string, int>> status_counts;  // kernel → status → n
  std::map<std::string, std::set<std::string>> problems;
  for (const auto& t : d.store.value("trials", json::array())) {
    status_counts[t.value("kernel", "?")][t.value("status", "?")]++;
    problems[t.value("kernel", "?")].insert(t.value("problem", "?"));
  }
  os << "| kernel | space (buildable) | problems | trials | ok | invalid | compile error | "
        "launch error "
        "| crashed/timeout |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& [k, c] : status_counts) {
    int total = 0;
    for (const auto& kv : c) total += kv.second;
    auto get = [&](const char* s) {
      auto it = c.find(s);
      return it == c.end() ? 0 : it->second;
    };
    auto sz = d.space_sizes.find(k);
    const std::string space =
        sz == d.space_sizes.end()
            ? "–"
            : std::to_string(sz->second.first) + " (" + std::to_string(sz->second.second) + ")";
    os << "| " << k << " | " << space << " | " << problems[k].size() << " | " << total << " | "
       << get("ok") << " | " << get("invalid") << " | " << get("compile_error") << " | "
       << get("launch_error") << " | " << get("crashed") + get("timeout") << " |\n";
  }
  double seconds = 0;
  int runs = 0;
  for (const auto& r : d.store.value("runs", json::array())) {
    const auto a = iso_seconds(r.value("started_at", "")), b = iso_seconds(r.value("ended_at", ""));
    if (a && b && *b >= *a) seconds += double(*b - *a);
    ++runs;
  }
  os << "\n"
     << runs << " tuning runs, " << fmt("%.1f", seconds / 60) << " minutes of wall time on the GPU "
     << "(start to end of each run).\n\n";
  // The newest winner of each (device, kernel, problem): older ones belong to superseded kernel
  // sources or spaces and stay in the store only as history.
  std::map<std::tuple<std::string, std::string, std::string>, json> newest;
  for (const auto& w : d.store.value("winners", json::array())) {
    auto& slot = newest[{w.value("device", ""), w.value("kernel", "?"), w.value("problem", "?")}];
    if (slot.is_null() || w.value("decided_at", "") > slot.value("decided_at", "")) slot = w;
  }
  std::vector<json> winners;
  for (auto& [key, w] : newest) winners.push_back(std::move(w));
  const std::size_t superseded = d.store.value("winners", json::array()).size() - winners.size();
  if (!winners.empty()) {
    if (superseded > 0)
      os << "The newest winner of each kernel and problem. Older winners (of superseded kernel "
            "sources), kept in the store as history: "
         << superseded << ".\n\n";
    std::map<std::string, int> wins;
    os << "Times are the tuner's (CUPTI op span, L2 flushed). \"default\" is the untuned op in "
          "the same problem; a "
          "kernel's winner inside the op plan carries the plan's time, its default the untuned "
          "op's trial, so "
          "the two come from different moments and short ops can show a ratio below 1 within "
          "noise.\n\n";
    os << "| kernel | problem | winner | median µs | default µs | winner / default "
          "|\n|---|---|---|---|---|---|\n";
    for (const auto& w : winners) {
      const double m = w.value("median_us", 0.0), dm = w.value("default_median_us", 0.0);
      wins[w.value("kernel", "?") + " " + w.value("config", "?")]++;
      os << "| " << w.value("kernel", "?") << " | " << w.value("problem", "?") << " | `"
         << w.value("config", "?") << "` | " << fmt("%.1f", m) << " | "
         << (dm > 0 ? fmt("%.1f", dm) : "–") << " | "
         << (dm > 0 && m > 0 ? fmt(dm >= m ? "%.2fx faster" : "%.2fx (slower)", dm / m) : "–")
         << " |\n";
    }
    os << "\nHow often each config won:\n\n| kernel and config | wins |\n|---|---|\n";
    std::vector<std::pair<int, std::string>> order;
    for (const auto& [k, n] : wins) order.emplace_back(-n, k);
    std::sort(order.begin(), order.end());
    for (const auto& [n, k] : order) os << "| `" << k << "` | " << -n << " |\n";
    os << "\n";
  }
}

}  // namespace

std::string render_markdown(const ReportData& d) {
  std::ostringstream os;
  os << "# qla report: " << (d.gpu.empty() ? "unknown GPU" : d.gpu) << "\n\n";
  os << "Generated by `qla report` from measurements dated " << (d.date.empty() ? "?" : d.date)
     << (d.git_commit.empty() ? "" : ", qla commit `" + d.git_commit + "`") << ". ";
  os << "Every time in the tables of this card was measured on this card with identical inputs "
        "(the bench "
        "documents below name their runs); speedup = baseline time / qla time, where qla time is "
        "the tuned "
        "configs' (the defaults' where no tuned time exists).\n\n";

  if (!d.sources.empty()) {
    os << "Bench documents:\n";
    document_list(os, d);
    os << "\n";
  }
  os << "## Environment\n\n| item | value |\n|---|---|\n";
  os << "| card | " << d.gpu << " |\n";
  if (d.copy_gbps > 0)
    os << "| device-to-device copy (measured) | " << fmt("%.0f GB/s", d.copy_gbps) << " |\n";
  if (d.matmul_tflops > 0)
    os << "| bf16 matmul (measured) | " << fmt("%.0f TFLOP/s", d.matmul_tflops) << " |\n";
  for (const auto& [k, v] : d.versions) os << "| " << k << " | " << v << " |\n";
  os << "\n";

  if (d.validation.is_object()) {
    const auto& v = d.validation;
    os << "## Correctness\n\n"
       << "From the GPU suite's record (`validation.json`, " << v.value("date", "?")
       << ", qla commit `" << v.value("git_commit", "?") << "`): " << v.value("method", "")
       << "; the bar is " << fmt("%.0e", v.value("bar", 0.005)) << ".\n\n"
       << "| suite | family | configs | cases | runs | worst o | worst final state | other |\n"
       << "|---|---|---|---|---|---|---|---|\n";
    for (const auto& r : v["rows"]) {
      const std::string other =
          r.contains("other") ? r["other"].value("name", "") + " " + error_cell(r["other"], "worst")
                              : "–";
      os << "| " << r.value("suite", "") << " | " << r.value("family", "") << " | "
         << r.value("configs", "") << " | " << r.value("cases", 0) << " | " << r.value("runs", 0)
         << " | " << error_cell(r, "worst_o") << " | " << error_cell(r, "worst_final_state")
         << " | " << other << " |\n";
    }
    os << "\n";
  }

  for (const char* mode : {"graph", "cold"}) {
    const auto it = d.timings.find(mode);
    if (it == d.timings.end() || it->second.empty()) continue;
    const auto& rows = it->second;
    os << "## Forward, "
       << (std::string(mode) == "graph"
               ? "CUDA-graph mode (FlashQLA's published method: calls captured per replay, L2 "
                 "flushed per replay)"
               : "cold mode (L2 flushed before every call)")
       << "\n\n";
    shape_table(os, d, rows);
    os << "\n";
  }
  comparison_sets(os, d);
  accuracy_table(os, d);
  kernel_table(os, d);
  chunk_step_table(os, d);
  if (d.copy_gbps > 0)
    os << "Floors: compulsory bytes (inputs read once, outputs written once) over the measured "
          "copy rate, and "
          "the fused forward's tensor-core FLOPs over the measured matmul rate; the column is "
          "floor time / qla "
          "time.\n\n";

  published_section(os, d);
  tuning_section(os, d);
  return os.str();
}

json plot_digest(const ReportData& d) {
  json rows = json::array();
  for (const auto& [mode, shapes] : d.timings)
    for (const auto& [s, impls] : shapes)
      for (const auto& [impl, t] : impls)
        rows.push_back({{"h_qk", s.h_qk},
                        {"h_v", s.h_v},
                        {"seqlens", s.seqlens},
                        {"tokens", s.tokens()},
                        {"seq_name", s.seq_name()},
                        {"impl", impl},
                        {"mode", t.mode},
                        {"ms", t.ms},
                        {"bytes", compulsory_bytes(s)},
                        {"flops", forward_flops(s)}});
  return {{"gpu", d.gpu},
          {"copy_gbps", d.copy_gbps},
          {"matmul_tflops", d.matmul_tflops},
          {"rows", rows}};
}

}  // namespace qla::report
