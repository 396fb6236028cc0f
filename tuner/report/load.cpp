// Reading the report's inputs: bench documents (with their comparison sets), published numbers,
// and the checks of the correctness and chunk-step records.
#include <fstream>

#include "qla/error.hpp"
#include "report.hpp"

namespace qla::report {
namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream in(path);
  QLA_REQUIRE(in, "report input '" << path << "' cannot be read");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw UserError("report input '" + path + "' is not valid JSON: " + e.what());
  }
}

Shape shape_of(const json& row, const std::string& path) {
  QLA_REQUIRE(row.contains("h_qk") && row.contains("h_v") && row.contains("seqlens"),
              "report input '" << path << "': a row lacks h_qk, h_v or seqlens: " << row.dump());
  Shape s;
  s.h_qk = row.at("h_qk").get<int>();
  s.h_v = row.at("h_v").get<int>();
  s.seqlens = row.at("seqlens").get<std::vector<long long>>();
  return s;
}

}  // namespace

void check_validation_record(const nlohmann::json& doc, const std::string& path) {
  QLA_REQUIRE(doc.is_object() && doc.value("schema", "") == "qla.validation.v1" &&
                  doc.contains("rows") && doc["rows"].is_array() && doc.contains("device") &&
                  doc["device"].is_object(),
              "'" << path << "' is not a qla validation record (schema \"qla.validation.v1\")");
  // An error is a number, or null (non-finite); a key a suite does not measure is absent (a
  // kernel without o, say), and "other" names one more output ({"name", "worst"}).
  auto error_or_absent = [](const nlohmann::json& r, const char* key) {
    return !r.contains(key) || r[key].is_number() || r[key].is_null();
  };
  for (const auto& r : doc["rows"]) {
    const bool other_ok = !r.is_object() || !r.contains("other") ||
                          (r["other"].is_object() && r["other"].contains("name") &&
                           r["other"]["name"].is_string() && error_or_absent(r["other"], "worst"));
    QLA_REQUIRE(
        r.is_object() && r.contains("family") && error_or_absent(r, "worst_o") &&
            error_or_absent(r, "worst_final_state") && other_ok &&
            (r.contains("worst_o") || r.contains("worst_final_state") || r.contains("other")),
        "'" << path
            << "': a row lacks its family or any error (worst_o, worst_final_state, other)");
  }
}

void check_chunk_step_record(const nlohmann::json& doc, const std::string& path) {
  QLA_REQUIRE(doc.is_object() && doc.value("schema", "") == "qla.chunk_step.v1" &&
                  doc.contains("rows") && doc["rows"].is_array() && doc.contains("device") &&
                  doc["device"].is_object(),
              "'" << path << "' is not a qla chunk-step record (schema \"qla.chunk_step.v1\")");
  for (const auto& r : doc["rows"])
    QLA_REQUIRE(r.is_object() && r.contains("step_us") && r["step_us"].is_number() &&
                    r.contains("roles") && r["roles"].is_object() && r.contains("role_order") &&
                    r["role_order"].is_array(),
                "'" << path << "': a row lacks step_us, roles or role_order");
}

ReportData load_report_data(const std::vector<std::string>& bench_files,
                            const std::vector<std::string>& published_files,
                            const std::optional<json>& store_export, std::string git_commit) {
  ReportData d;
  d.git_commit = std::move(git_commit);
  for (const auto& path : bench_files) {
    const json doc = read_json(path);
    QLA_REQUIRE(
        doc.value("schema", "") == "qla.bench.v1",
        "report input '" << path
                         << "' is not a qla bench document (schema \"qla.bench.v1\" expected)");
    const std::string impl = doc.value("implementation", "");
    const std::string gpu = doc.contains("device") ? doc["device"].value("name", "") : "";
    QLA_REQUIRE(!gpu.empty(), "report input '" << path << "' does not name its device");
    QLA_REQUIRE(d.gpu.empty() || d.gpu == gpu, "report inputs come from different cards: '"
                                                   << d.gpu << "' and '" << gpu << "' (" << path
                                                   << ")");
    d.gpu = gpu;
    d.date = std::max(d.date, doc.value("date", std::string()));
    const auto set = doc.find("set");
    QLA_REQUIRE(set == doc.end() || (set->is_string() && !set->get<std::string>().empty()),
                "report input '" << path << "': 'set' is not a comparison set's name");
    // A comparison set's documents keep to their own section: the page's versions and ceilings are
    // the main tables'.
    const bool own = set != doc.end();
    BenchDocuments& group = own ? d.sets[set->get<std::string>()] : d;
    group.sources.push_back(path + " (" + (impl.empty() ? "qla" : impl) + ", " +
                            doc.value("date", std::string("?")) +
                            (doc.contains("versions") && doc["versions"].contains("git_commit")
                                 ? ", qla " + doc["versions"]["git_commit"].get<std::string>()
                                 : std::string()) +
                            ")");
    group.source_methods.push_back(doc.value("method", std::string()));
    if (doc.contains("versions") && !own)
      for (const auto& [k, v] : doc["versions"].items())
        d.versions[k] = v.is_string() ? v.get<std::string>() : v.dump();
    if (doc.contains("ceilings") && !own) {
      d.copy_gbps = doc["ceilings"].value("copy_gbps", d.copy_gbps);
      d.matmul_tflops = doc["ceilings"].value("matmul_tflops", d.matmul_tflops);
    }
    for (const auto& row : doc.at("rows")) {
      const std::string row_impl = row.value("implementation", impl);
      QLA_REQUIRE(!row_impl.empty(),
                  "report input '" << path << "': a row names no implementation");
      QLA_REQUIRE(row.contains("ms") && row["ms"].is_number() && row["ms"].get<double>() > 0,
                  "report input '" << path << "': row " << row.value("name", "?")
                                   << " has no positive 'ms'");
      Timing t{row["ms"].get<double>(), row.value("mode", std::string("graph")), path, {}};
      if (const auto v = row.find("validation");
          v != row.end() && v->is_object() && v->contains("o") && (*v)["o"].is_object())
        t.o_error = (*v)["o"].value("rel_fro", -1.0);
      else if (const auto e = row.find("errors"); e != row.end() && e->is_object())
        t.o_error = e->value("o", -1.0);
      if (const auto k = row.find("kernels"); k != row.end()) {
        QLA_REQUIRE(k->is_array(), "report input '" << path << "': row " << row.value("name", "?")
                                                    << " has a 'kernels' that is not a list");
        for (const auto& e : *k) {
          QLA_REQUIRE(e.is_object() && e.contains("name") && e["name"].is_string() &&
                          e.contains("us") && e["us"].is_number(),
                      "report input '" << path << "': row " << row.value("name", "?")
                                       << " has a kernel entry without a name and a time (us)");
          t.kernels_us.emplace_back(e["name"].get<std::string>(), e["us"].get<double>());
        }
      }
      group.timings[t.mode][shape_of(row, path)][row_impl] = t;
    }
  }
  for (const auto& path : published_files) {
    const json doc = read_json(path);
    for (const auto& row : doc.at("rows")) {
      if (row.value("direction", "fwd") != "fwd") continue;
      const std::string card = row.at("card").get<std::string>();
      d.published[{card, row.at("impl").get<std::string>()}][shape_of(row, path)] =
          row.at("ms").get<double>();
      d.published_sources[card] = doc.value("source", path);
    }
  }
  if (store_export) d.store = *store_export;
  return d;
}

}  // namespace qla::report
