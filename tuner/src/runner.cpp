#include "qla/tuner/runner.hpp"

#include <exception>

namespace qla::tuner {

TrialResult validate_then_measure(const std::function<std::vector<OutputError>()>& validate,
                                  const std::function<Measurement()>& measure, double tolerance) {
  TrialResult r;
  try {
    r.errors = validate();
  } catch (const std::exception& e) {
    r.status = TrialStatus::kLaunchError;
    r.message = std::string("validation run failed: ") + e.what();
    return r;
  }
  if (!errors_pass(r.errors, tolerance)) {
    r.status = TrialStatus::kInvalid;
    r.message = "outputs differ from the reference beyond the tolerance";
    return r;
  }
  try {
    Measurement m = measure();
    r.time = m.time;
    r.kernels = std::move(m.kernels);
  } catch (const std::exception& e) {
    r.status = TrialStatus::kLaunchError;
    r.message = std::string("timed run failed: ") + e.what();
  }
  return r;
}

}  // namespace qla::tuner
