#include "bench_document.hpp"

#include <cctype>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "qla/error.hpp"
#include "report/report.hpp"

namespace qla::bench {
namespace {

using nlohmann::json;

json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

float bf16_to_float(std::uint16_t bits) {
  const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

ErrorMetrics compare_f32(const std::vector<float>& x, const std::vector<float>& ref) {
  return compare_outputs(x, ref);
}

ErrorMetrics compare_bf16(const std::vector<std::uint16_t>& x,
                          const std::vector<std::uint16_t>& ref) {
  return compare_outputs(x, ref, bf16_to_float);
}

json to_json(const ErrorMetrics& e) {
  return {{"rel_fro", finite_or_null(e.rel_fro)},
          {"max_abs", e.max_abs},
          {"nan_count", e.non_finite},
          {"elements", e.elements}};
}

bool Validation::passed() const { return o.within(tolerance) && ht.within(tolerance); }

Rates rates_for(const Shape& shape, double ms, const Ceilings& ceilings) {
  Rates r;
  if (ms <= 0) return r;
  report::Shape s;
  s.h_qk = shape.heads.h_qk;
  s.h_v = shape.heads.h_v;
  s.seqlens.assign(shape.seqs.seqlens.begin(), shape.seqs.seqlens.end());
  const double seconds = ms * 1e-3;
  r.gbps = report::compulsory_bytes(s) / seconds / 1e9;
  r.tflops = report::forward_flops(s) / seconds / 1e12;
  if (ceilings.copy_gbps > 0) r.copy_fraction = r.gbps / ceilings.copy_gbps;
  if (ceilings.matmul_tflops > 0) r.matmul_fraction = r.tflops / ceilings.matmul_tflops;
  return r;
}

bool found_no_tuned_rows(const std::map<std::string, std::string>& provenance) {
  for (const auto& [kernel, how] : provenance)
    if (how != "heuristic" && how != "not in the catalog") return false;
  return true;
}

std::string kernel_base_name(const std::string& name) {
  if (name.rfind("_Z", 0) == 0) {  // _Z [N] (<length><identifier>)+ ...: the last identifier
    std::size_t i = 2 + (name.size() > 2 && name[2] == 'N');
    std::string last;
    while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) {
      std::size_t len = 0;
      while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])))
        len = 10 * len + static_cast<std::size_t>(name[i++] - '0');
      if (len == 0 || i + len > name.size()) return name;
      last = name.substr(i, len);
      i += len;
    }
    return last.empty() ? name : last;
  }
  std::string s = name;
  if (const std::size_t cut = s.find_first_of("<("); cut != std::string::npos) s.resize(cut);
  if (const std::size_t space = s.rfind(' '); space != std::string::npos) s.erase(0, space + 1);
  if (const std::size_t scope = s.rfind("::"); scope != std::string::npos) s.erase(0, scope + 2);
  return s.empty() ? name : s;
}

json to_json(const Row& r) {
  json row = {{"name", r.shape.name()},
              {"implementation", r.implementation},
              {"mode", r.mode},
              {"h_qk", r.shape.heads.h_qk},
              {"h_v", r.shape.heads.h_v},
              {"model", r.shape.heads.model},
              {"seq_set", r.shape.seqs.name},
              {"seqlens", r.shape.seqs.seqlens},
              {"tokens", r.shape.seqs.tokens()},
              {"ms", r.ms},
              {"samples", r.samples},
              {"configs", r.configs},
              {"cp_pieces", r.cp_pieces},
              {"gbps", r.rates.gbps},
              {"tflops", r.rates.tflops},
              {"copy_fraction", r.rates.copy_fraction},
              {"matmul_fraction", r.rates.matmul_fraction},
              {"validation",
               {{"against", r.validation.against},
                {"tolerance", r.validation.tolerance},
                {"passed", r.validation.passed()},
                {"o", to_json(r.validation.o)},
                {"ht", to_json(r.validation.ht)}}}};
  if (r.mode == kModeCold) {
    row["ms_min"] = r.ms_min;
    row["ms_max"] = r.ms_max;
    row["noise"] = r.noise;
    row["timer"] = r.used_cupti ? "cupti" : "events";
  } else {
    row["calls_per_replay"] = r.calls_per_replay;
  }
  // Each kernel's time per call where CUPTI recorded them: the median in cold mode, the mean over
  // the timed replays in graph mode.
  if (!r.kernels_us.empty()) {
    json kernels = json::array();
    for (const auto& [name, us] : r.kernels_us) kernels.push_back({{"name", name}, {"us", us}});
    row["kernels"] = std::move(kernels);
  }
  if (!r.provenance.empty()) row["provenance"] = r.provenance;
  return row;
}

json to_json(const Document& d) {
  // Cold rows first, graph rows last (otherwise in run order): a reader that keys times by
  // implementation alone keeps the last row it sees, and the graph time is the one comparable with
  // FlashQLA's and FLA's tables.
  json rows = json::array();
  for (const char* mode : {kModeCold, kModeGraph}) {
    for (const Row& r : d.rows) {
      if (r.mode == mode) rows.push_back(to_json(r));
    }
  }
  for (const Row& r : d.rows) {
    if (r.mode != kModeCold && r.mode != kModeGraph) rows.push_back(to_json(r));
  }
  json skipped = json::array();
  for (const Skipped& s : d.skipped) {
    skipped.push_back({{"name", s.shape.name()},
                       {"implementation", s.implementation},
                       {"h_qk", s.shape.heads.h_qk},
                       {"h_v", s.shape.heads.h_v},
                       {"seqlens", s.shape.seqs.seqlens},
                       {"reason", s.reason}});
  }
  return {{"schema", "qla.bench.v1"},
          {"implementation", "qla"},
          {"device", d.device},
          {"date", d.date},
          {"versions", d.versions},
          {"ceilings",
           {{"copy_gbps", d.ceilings.copy_gbps},
            {"matmul_tflops", d.ceilings.matmul_tflops},
            {"matmul_how", d.ceilings.matmul_how}}},
          {"method", d.method},
          {"rows", rows},
          {"skipped", skipped}};
}

void write_text_atomically(const std::string& path, const std::string& text, const char* what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  QLA_REQUIRE(!ec, what << ": cannot create the directory of '" << path << "': " << ec.message());
  // Write beside the target and rename, so a crash never leaves half a document where the report
  // looks.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    QLA_REQUIRE(out, what << ": cannot write '" << tmp << "'");
    out << text;
    QLA_REQUIRE(out.good(), what << ": writing '" << tmp << "' failed");
  }
  fs::rename(tmp, p, ec);
  QLA_REQUIRE(!ec, what << ": cannot move '" << tmp << "' to '" << path << "': " << ec.message());
}

void write_document(const Document& d, const std::string& path) {
  write_text_atomically(path, to_json(d).dump(1) + "\n", "--qla_out");
}

std::string today_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

}  // namespace qla::bench
