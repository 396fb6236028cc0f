// Candidate isolation: candidates run in a worker process (the `qla` executable itself, in its
// hidden `qla worker` mode) that the tuner talks to over a socket pair with one JSON object per
// line. An illegal address, a trap, an abort, a sticky CUDA error or a hang ends the worker, not
// the tuning run: the parent records the trial as crashed or timed out and starts a fresh worker
// for the next request. POSIX only.
//
// Protocol (one line each way per request):
//   → {"op": "trial" | "sample", "kernel": ..., "problem": {...}, "config": [...]}
//   ← {"result": {...TrialResult...}} or {"sample_us": x}, plus "fatal": true when the worker must
//   end after
//     answering (a sticky CUDA error: its context is unusable).
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qla/tuner/runner.hpp"

namespace qla::tuner {

/// Thrown by a backend inside the worker when the process cannot go on (sticky CUDA error); the
/// worker answers the request as crashed with this message and exits.
class WorkerMustExit : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

nlohmann::json trial_result_to_json(const TrialResult& r);
TrialResult trial_result_from_json(const nlohmann::json& j);
nlohmann::json trial_request_to_json(const TrialRequest& r);
TrialRequest trial_request_from_json(const nlohmann::json& j);

/// The worker's loop: reads requests from stdin, answers on the original stdout, and points stdout
/// at stderr first so that nothing a backend prints can corrupt the protocol. Returns the exit code
/// (0 at end of input).
int serve_worker(TrialRunner& backend);

/// A TrialRunner that forwards each request to a worker process started from `argv` (argv[0] a
/// path), and restarts it after a crash or a timeout. Move-only owner of the child process.
class ProcessRunner final : public TrialRunner {
 public:
  /// `timeout_s`: the watchdog per request (validation and timing of one candidate).
  ProcessRunner(std::vector<std::string> argv, double timeout_s);
  ProcessRunner(ProcessRunner&&) noexcept;
  ProcessRunner& operator=(ProcessRunner&&) noexcept;
  ProcessRunner(const ProcessRunner&) = delete;
  ProcessRunner& operator=(const ProcessRunner&) = delete;
  ~ProcessRunner() override;

  TrialResult run_trial(const TrialRequest& request) override;
  double sample(const TrialRequest& request) override;

  /// Workers started so far (1 + restarts after faults), for tests and the progress line.
  int workers_started() const { return started_; }
  /// The argv of `qla worker` for this executable (/proc/self/exe) with `extra` arguments appended.
  static std::vector<std::string> self_worker_argv(const std::vector<std::string>& extra = {});

 private:
  struct Reply {
    TrialStatus failure = TrialStatus::kOk;  ///< kCrashed / kTimeout when no answer came
    std::string message;
    nlohmann::json body;
  };
  Reply call(const nlohmann::json& request);
  void start();
  void stop(bool kill_it);

  std::vector<std::string> argv_;
  double timeout_s_ = 60;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffer_;  ///< bytes read past the last line
  int started_ = 0;
};

}  // namespace qla::tuner
