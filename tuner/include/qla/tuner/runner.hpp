// Running one candidate: the TrialRunner interface (validate, then time; or one timed sample for
// the final paired re-measurement), the compile step that precedes it, and the
// validate-then-measure sequence every backend follows. Plain C++17.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"
#include "qla/tuner/trial.hpp"

namespace qla::tuner {

/// One candidate on one problem.
struct TrialRequest {
  std::string kernel;  ///< SpaceDecl::kernel
  gdn::Problem problem;
  Point config;  ///< values, axis order
  /// Configs of the op's other kernels the candidate runs with (kernel id → values); empty: the
  /// op's defaults. A joint space (the op plan) fixes its members this way.
  std::map<std::string, Point> members = {};
};

/// Runs candidates. Implementations: a backend inside the worker process (the real kernels through
/// the op, or the fake kernel of the tests), and ProcessRunner (worker.hpp) which forwards to such
/// a backend in a child process so that faults end the child, not the tuning run.
class TrialRunner {
 public:
  virtual ~TrialRunner() = default;
  /// Validates the candidate against the reference, then times it. Never throws for per-config
  /// outcomes: they come back as the result's status.
  virtual TrialResult run_trial(const TrialRequest& request) = 0;
  /// One timed sample (op span, microseconds) of an already validated candidate; +inf when it
  /// failed.
  virtual double sample(const TrialRequest& request) = 0;
};

/// Outcome of compiling one candidate (NVRTC on a host thread, or nothing for AOT/fake kernels).
struct CompileResult {
  bool ok = true;
  std::string message;  ///< compiler log excerpt when !ok
  Resources resources;  ///< registers, shared memory and spills of the compiled kernel(s)
};

/// Time statistics and per-kernel times of a measured candidate.
struct Measurement {
  TimeStats time;
  std::vector<KernelTime> kernels;
};

/// Relative Frobenius error against the float64 reference a candidate must meet on every output:
/// the project's bar, FLA's own level on bf16 inputs (its forward lands at 3.5–4.2e-3).
inline constexpr double kValidationTolerance = 0.005;

/// The sequence every backend follows: `validate` (outputs NaN-poisoned, compared with the
/// reference); a candidate whose errors fail `tolerance` is kInvalid and is not timed; otherwise
/// `measure`. A std::exception from either step is a kLaunchError carrying its message.
TrialResult validate_then_measure(const std::function<std::vector<OutputError>()>& validate,
                                  const std::function<Measurement()>& measure,
                                  double tolerance = kValidationTolerance);

}  // namespace qla::tuner
