// The bench's own output: one "qla.bench.v1" JSON document per run, the format `qla report` reads
// (tuner/report/report.hpp), plus the effective-rate counters and the output error metrics each row
// carries. Plain C++17: tested on the CPU by loading what it writes through the report's own
// loader.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "qla/error_metrics.hpp"
#include "qla/tuner/shape_matrix.hpp"

namespace qla::bench {

// The benchmark matrix is the tuner's (qla/tuner/shape_matrix.hpp): one table for `qla tune
// --suite` and the bench.
using tuner::backward_heads;
using tuner::backward_seqs;
using tuner::cross;
using tuner::forward_heads;
using tuner::forward_problem;
using tuner::forward_seqs;
using tuner::HeadConfig;
using tuner::headline_heads;
using tuner::headline_seqs;
using tuner::select_heads;
using tuner::select_seqs;
using tuner::SeqSet;
using tuner::Shape;

/// The implementations a row can time, as the report names them.
inline constexpr const char* kImplTuned =
    "qla-tuned";  ///< fused forward, configs from the store's lookup
inline constexpr const char* kImplDefault =
    "qla-default";  ///< fused forward, every kernel at its space default
inline constexpr const char* kImplUnfused = "unfused";  ///< FLA-style five-kernel baseline
inline constexpr const char* kImplNaive = "naive";      ///< token-by-token recurrence baseline

/// The timing modes.
inline constexpr const char* kModeGraph =
    "graph";  ///< FlashQLA's method: calls in a CUDA graph, L2 flushed per replay
inline constexpr const char* kModeCold = "cold";  ///< one call per sample, L2 flushed before each

/// Error of one output against a reference output of the same shape.
/// Output error against a reference (qla/error_metrics.hpp).
using ErrorMetrics = qla::ErrorMetrics;

/// Errors of x against ref (same length; bf16 given as raw uint16 bits). Throws
/// std::invalid_argument when the lengths differ.
ErrorMetrics compare_f32(const std::vector<float>& x, const std::vector<float>& ref);
ErrorMetrics compare_bf16(const std::vector<std::uint16_t>& x,
                          const std::vector<std::uint16_t>& ref);
/// bf16 bits → float (exact).
float bf16_to_float(std::uint16_t bits);
nlohmann::json to_json(const ErrorMetrics& e);

/// How one implementation's outputs were checked before it was timed.
struct Validation {
  std::string against;   ///< "naive" (the naive kernel on the same inputs) or
                         ///< "reference-fp64:<problem label>"
  ErrorMetrics o;        ///< output o
  ErrorMetrics ht;       ///< final state
  double tolerance = 0;  ///< rel_fro bound both outputs had to meet
  bool passed() const;
};

/// The card's measured floors, from the same run.
struct Ceilings {
  double copy_gbps =
      0;  ///< device-to-device copy, (bytes read + bytes written) / s / 1e9; 0 = not measured
  double matmul_tflops = 0;  ///< bf16 GEMM, 2·M·N·K / s / 1e12; 0 = not measured
  std::string
      matmul_how;  ///< "cublasGemmEx bf16 8192^3, fp32 accumulate" or why it was not measured
};

/// Effective rates of one timed call of the forward on `shape`.
struct Rates {
  double gbps = 0;             ///< compulsory bytes (report::compulsory_bytes) / time
  double tflops = 0;           ///< forward FLOPs (report::forward_flops) / time
  double copy_fraction = 0;    ///< gbps / ceilings.copy_gbps (0 when the ceiling is unknown)
  double matmul_fraction = 0;  ///< tflops / ceilings.matmul_tflops (0 when unknown)
};
Rates rates_for(const Shape& shape, double ms, const Ceilings& ceilings);

/// One timed (shape, implementation, mode).
struct Row {
  Shape shape;
  std::string implementation;     ///< kImpl*
  std::string mode;               ///< kMode*
  double ms = 0;                  ///< graph: mean per call over replays; cold: median per call
  double ms_min = 0, ms_max = 0;  ///< cold only (0 otherwise)
  int samples = 0;                ///< cold: samples kept; graph: replays
  int calls_per_replay = 0;       ///< graph only
  double noise = 0;               ///< cold: relative noise of the median
  bool used_cupti = false;        ///< cold: span from CUPTI records (else CUDA events)
  std::map<std::string, std::string> configs;  ///< kernel id → config label the plan ran
  std::map<std::string, std::string>
      provenance;     ///< kernel id → lookup provenance (tuned rows only)
  int cp_pieces = 0;  ///< CP split the plan chose (0 = off)
  /// With CUPTI, each kernel's duration (µs; cold: the median, graph: the mean per call over the
  /// timed replays) in launch order, under its function name without namespace and template
  /// arguments (gdn.fused_fwd_wgmma → "fused_fwd_wgmma_kernel")
  std::vector<std::pair<std::string, double>> kernels_us;
  Validation validation;
  Rates rates;
};
nlohmann::json to_json(const Row& r);

/// Whether a qla-tuned plan found no tuned row at all: every kernel's lookup provenance (kernel id
/// → "exact", "nearest", "same_arch", "heuristic" or "not in the catalog") is "heuristic" or not in
/// the catalog. Such a plan is the untuned op (a store tuned on other kernel sources, or on other
/// problems of no class near this one); the bench skips it instead of timing the default twice.
bool found_no_tuned_rows(const std::map<std::string, std::string>& provenance);

/// A kernel's function name without return type, namespaces, template arguments and parameters,
/// from the demangled or the Itanium-mangled name CUPTI reports ("void qla::gdn::k<2>(P)" and
/// "_ZN3qla3gdn1kILi2EEEvP" → "k"); a name it cannot parse comes back unchanged.
std::string kernel_base_name(const std::string& name);

/// A (shape, implementation) that was not timed, and why (not implemented, failed validation,
/// launch error).
struct Skipped {
  Shape shape;
  std::string implementation;
  std::string reason;
};

/// The whole run.
struct Document {
  nlohmann::json device;  ///< {"name", "sm_count", ...}; "name" is required by the report
  std::string date;       ///< YYYY-MM-DD
  std::map<std::string, std::string> versions;  ///< "qla", "cuda_runtime", "cuda_driver", ...
  Ceilings ceilings;
  std::string method;  ///< one sentence per timing mode
  std::vector<Row> rows;
  std::vector<Skipped> skipped;
};
/// The "qla.bench.v1" document (schema, implementation "qla", device, date, versions, ceilings,
/// method, rows, skipped).
nlohmann::json to_json(const Document& d);
/// Writes to_json(d) to `path`, creating parent directories. Throws UserError naming `path` when it
/// cannot.
void write_document(const Document& d, const std::string& path);

/// Writes `text` to `path` beside it first, then renames (a crash never leaves half a file);
/// creates the parent folder; UserError naming `what` (the flag) and the path on failure.
void write_text_atomically(const std::string& path, const std::string& text, const char* what);

/// Today's date in UTC, YYYY-MM-DD.
std::string today_utc();

}  // namespace qla::bench
