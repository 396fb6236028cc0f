// What a report page is made from: the shapes, the measured times by mode, shape and
// implementation, the comparison sets, and the card's records (qla report, report.hpp).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace qla::report {

/// A problem shape of the benchmark matrix: heads and the packed sequence lengths.
struct Shape {
  int h_qk = 0;
  int h_v = 0;
  std::vector<long long> seqlens;
  long long tokens() const;
  std::string seq_name() const;  ///< "1x8192", "8192x4" or "4096+4096"
  bool operator<(const Shape& o) const {
    return std::tie(h_qk, h_v, seqlens) < std::tie(o.h_qk, o.h_v, o.seqlens);
  }
  bool operator==(const Shape& o) const {
    return h_qk == o.h_qk && h_v == o.h_v && seqlens == o.seqlens;
  }
};

/// One measured time of one implementation on one shape.
struct Timing {
  double ms = 0;
  std::string mode;    ///< "graph" (FlashQLA's published method) or "cold" (L2 flushed per call)
  std::string source;  ///< file it came from
  /// Cold rows timed with CUPTI: each kernel's median duration (µs) in launch order.
  std::vector<std::pair<std::string, double>> kernels_us;
  /// Relative Frobenius error of o against the naive fp32 recurrence on the bench's inputs (qla's
  /// rows: validation.o.rel_fro; the baselines': errors.o); negative when the row carries none.
  double o_error = -1;
};

/// mode ("graph" / "cold") → shape → implementation → time.
using Timings = std::map<std::string, std::map<Shape, std::map<std::string, Timing>>>;

/// A group of bench documents whose rows pair with each other: the main tables', or a comparison
/// set's (documents that name one, "set": "<name>": runs whose qla rows pair only with the
/// baselines timed in the same runs, e.g. one baseline timed beside qla over more shapes than the
/// calls of the main tables ran it on).
struct BenchDocuments {
  std::vector<std::string> sources;  ///< one line per bench document: path, implementation, date
  std::vector<std::string> source_methods;  ///< each bench document's "method", how it was measured
  Timings timings;
};

/// Everything the page is made from: the main tables' bench documents, and the rest.
struct ReportData : BenchDocuments {
  std::string gpu;                              ///< card name of the bench documents
  std::string date;                             ///< newest bench date
  std::map<std::string, std::string> versions;  ///< "fla" → "0.5.2", ...
  double copy_gbps = 0;      ///< measured device-to-device copy ceiling, 0 if unknown
  double matmul_tflops = 0;  ///< measured bf16 matmul ceiling, 0 if unknown
  std::map<std::string, BenchDocuments> sets;  ///< comparison set name → its documents
  /// Published rows: (card, implementation) → shape → ms.
  std::map<std::pair<std::string, std::string>, std::map<Shape, double>> published;
  std::map<std::string, std::string> published_sources;  ///< card → source line
  nlohmann::json store;  ///< Store::export_json(), null when no store
  /// Kernel id → (points in its declared space, points buildable on the card), for the tuning
  /// summary.
  std::map<std::string, std::pair<std::size_t, std::size_t>> space_sizes;
  std::string git_commit;
  /// The GPU suite's correctness record for this card (schema qla.validation.v1, written by
  /// scripts/gpu-test.sh), null when none was committed.
  nlohmann::json validation;
  /// qla_chunk_step_profile's record for this card (schema qla.chunk_step.v1), null when none was
  /// committed.
  nlohmann::json chunk_step;
  /// The headline shapes (`qla tune --suite headline`). A speed table that holds shapes beyond them
  /// (FlashQLA's whole matrix) gets a breakdown of its ratios: over these alone and per head
  /// configuration. Empty: no breakdown.
  std::vector<Shape> headline;
};

}  // namespace qla::report
