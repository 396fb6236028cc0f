// The correctness record the GPU suite leaves for the report: with QLA_VALIDATION_RECORD set to a
// file, each validation sweep appends one JSON line (suite, family, configs, cases, runs, worst
// errors against float64, the card). scripts/gpu-test.sh turns the lines into
// results/<gpu>/validation.json (schema qla.validation.v1), which `qla report` quotes, so the
// correctness figures come from a file a run wrote, not from prose.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <utility>

namespace qla::test {

inline std::string json_escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

/// One record: only the errors given are written (an output a suite does not measure is absent,
/// "–" in the report); `other` names one more output, e.g. {"M", 1.4e-4}.
struct ValidationRow {
  std::string suite, family, configs;
  int cases = 0, runs = 0;
  std::optional<double> worst_o, worst_final_state;
  std::optional<std::pair<std::string, double>> other;
};
/// Appends one record when QLA_VALIDATION_RECORD names a file; does nothing otherwise.
inline void record_validation(const ValidationRow& r) {
  const char* path = std::getenv("QLA_VALIDATION_RECORD");
  if (path == nullptr || *path == '\0') return;
  cudaDeviceProp prop{};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess)
    return;
  auto number = [](double x) {  // JSON has no NaN or infinity: a non-finite error is null
    char b[32];
    if (!std::isfinite(x)) return std::string("null");
    std::snprintf(b, sizeof b, "%.3e", x);
    return std::string(b);
  };
  std::string line = "{\"suite\": \"" + json_escaped(r.suite) + "\", \"family\": \"" +
                     json_escaped(r.family) + "\", \"configs\": \"" + json_escaped(r.configs) +
                     "\", \"cases\": " + std::to_string(r.cases) +
                     ", \"runs\": " + std::to_string(r.runs);
  if (r.worst_o) line += ", \"worst_o\": " + number(*r.worst_o);
  if (r.worst_final_state) line += ", \"worst_final_state\": " + number(*r.worst_final_state);
  if (r.other)
    line += ", \"other\": {\"name\": \"" + json_escaped(r.other->first) +
            "\", \"worst\": " + number(r.other->second) + "}";
  line += ", \"card\": \"" + json_escaped(prop.name) + "\"}";
  std::ofstream(path, std::ios::app) << line << "\n";
}

/// A suite that measures o and the final state.
inline void record_validation(const std::string& suite, const std::string& family,
                              const std::string& configs, int cases, int runs, double worst_o,
                              double worst_ht) {
  record_validation(ValidationRow{suite, family, configs, cases, runs, worst_o, worst_ht, {}});
}

}  // namespace qla::test
