#include "qla/tuner/trial.hpp"

#include <cmath>
#include <limits>

namespace qla::tuner {

std::string_view status_name(TrialStatus s) {
  switch (s) {
    case TrialStatus::kOk:
      return "ok";
    case TrialStatus::kInvalid:
      return "invalid";
    case TrialStatus::kCompileError:
      return "compile_error";
    case TrialStatus::kLaunchError:
      return "launch_error";
    case TrialStatus::kCrashed:
      return "crashed";
    case TrialStatus::kTimeout:
      return "timeout";
  }
  return "?";
}

std::optional<TrialStatus> parse_status(std::string_view name) {
  for (TrialStatus s : {TrialStatus::kOk, TrialStatus::kInvalid, TrialStatus::kCompileError,
                        TrialStatus::kLaunchError, TrialStatus::kCrashed, TrialStatus::kTimeout})
    if (name == status_name(s)) return s;
  return std::nullopt;
}

bool errors_pass(const std::vector<OutputError>& errors, double tolerance) {
  for (const OutputError& e : errors)
    if (e.nan_count != 0 || !std::isfinite(e.rel_fro) || e.rel_fro > tolerance) return false;
  return true;
}

double trial_cost(const TrialResult& r) {
  return r.status == TrialStatus::kOk && r.time.median_us > 0
             ? r.time.median_us
             : std::numeric_limits<double>::infinity();
}

}  // namespace qla::tuner
