// What one trial of the tuner produces: a status (an expected per-config outcome, stored as data),
// time statistics, per-kernel times, validation errors and compiled resources. Plain C++17.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qla::tuner {

/// Outcome of one candidate config on one problem. Only kOk trials may become winners.
enum class TrialStatus : std::uint8_t {
  kOk,            ///< built, validated and timed
  kInvalid,       ///< built and ran, but its outputs failed validation against the reference (or it
                  ///< cannot implement the problem)
  kCompileError,  ///< NVRTC (or the compile callback) refused it
  kLaunchError,   ///< the launch or a non-sticky CUDA call failed; the worker survived
  kCrashed,       ///< the worker process died (signal, sticky CUDA error, abort)
  kTimeout,       ///< the watchdog killed the worker
};

/// "ok", "invalid", "compile_error", "launch_error", "crashed", "timeout": the store's spelling.
std::string_view status_name(TrialStatus s);
/// Inverse of status_name(); nullopt for unknown text.
std::optional<TrialStatus> parse_status(std::string_view name);

/// Statistics of the timed samples of one candidate. Times in microseconds; invariant min ≤ median
/// ≤ max.
struct TimeStats {
  double median_us = 0;
  double min_us = 0;
  double max_us = 0;
  int samples = 0;  ///< samples kept (after discarding throttled ones)
  double noise =
      0;  ///< relative noise of the median: half the width of its ~95 % interval / median
};

/// Median time of one kernel of the op (the op's span is TimeStats).
struct KernelTime {
  std::string
      name;  ///< kernel (function) name as CUPTI reports it, or the op's own name for a step
  double median_us = 0;
};

/// Validation error of one output tensor against the float64 reference.
struct OutputError {
  std::string name;    ///< "o", "final_state", ...
  double rel_fro = 0;  ///< ‖x − x_ref‖₂ / ‖x_ref‖₂ over the valid region
  double max_abs = 0;  ///< max |x − x_ref|
  std::int64_t nan_count =
      0;  ///< NaN/Inf elements in the output (the output is NaN-poisoned before the run)
};

/// Whether every output is finite and within `tolerance` relative Frobenius error.
bool errors_pass(const std::vector<OutputError>& errors, double tolerance);

/// Compiled resources of a candidate; -1 when unknown (e.g. AOT or fake kernels).
struct Resources {
  int registers = -1;   ///< registers per thread
  int smem_bytes = -1;  ///< static + dynamic shared memory per block, bytes
  int spills = -1;      ///< spill stores + loads, bytes
};

/// Everything a trial yields. `time` and `kernels` are meaningful for kOk only.
struct TrialResult {
  TrialStatus status = TrialStatus::kOk;
  TimeStats time;
  std::vector<KernelTime> kernels;
  std::vector<OutputError> errors;
  Resources resources;
  std::string message;  ///< compile log excerpt, CUDA error, signal name; empty for kOk
};

/// Cost the searcher sees: median time for kOk, +infinity otherwise.
double trial_cost(const TrialResult& r);

}  // namespace qla::tuner
