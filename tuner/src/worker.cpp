#include "qla/tuner/worker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <limits>

#include "qla/error.hpp"
#include "qla/tuner/problem_json.hpp"

namespace qla::tuner {
namespace {

double num(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>()
                                          : std::numeric_limits<double>::quiet_NaN();
}

bool write_all(int fd, const std::string& s, bool no_signal) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = no_signal ? ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL)
                                : ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return std::string("worker killed by signal SIG") +
           (name ? name : std::to_string(sig).c_str()) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(status)) return "worker exited with code " + std::to_string(WEXITSTATUS(status));
  return "worker ended";
}

}  // namespace

nlohmann::json trial_result_to_json(const TrialResult& r) {
  nlohmann::json kernels = nlohmann::json::array();
  for (const auto& k : r.kernels) kernels.push_back({{"name", k.name}, {"median_us", k.median_us}});
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : r.errors)
    errors.push_back({{"name", e.name},
                      {"rel_fro", e.rel_fro},
                      {"max_abs", e.max_abs},
                      {"nan_count", e.nan_count}});
  return {{"status", std::string(status_name(r.status))},
          {"median_us", r.time.median_us},
          {"min_us", r.time.min_us},
          {"max_us", r.time.max_us},
          {"samples", r.time.samples},
          {"noise", r.time.noise},
          {"kernels", kernels},
          {"errors", errors},
          {"registers", r.resources.registers},
          {"smem_bytes", r.resources.smem_bytes},
          {"spills", r.resources.spills},
          {"message", r.message}};
}

TrialResult trial_result_from_json(const nlohmann::json& j) {
  TrialResult r;
  const auto status = parse_status(j.at("status").get<std::string>());
  if (!status) throw std::runtime_error("worker answered an unknown status");
  r.status = *status;
  r.time = {num(j, "median_us"), num(j, "min_us"), num(j, "max_us"), j.value("samples", 0),
            num(j, "noise")};
  for (const auto& k : j.at("kernels"))
    r.kernels.push_back({k.at("name").get<std::string>(), num(k, "median_us")});
  for (const auto& e : j.at("errors"))
    r.errors.push_back({e.at("name").get<std::string>(), num(e, "rel_fro"), num(e, "max_abs"),
                        e.value("nan_count", std::int64_t{0})});
  r.resources = {j.value("registers", -1), j.value("smem_bytes", -1), j.value("spills", -1)};
  r.message = j.value("message", std::string());
  return r;
}

nlohmann::json trial_request_to_json(const TrialRequest& r) {
  return {{"kernel", r.kernel},
          {"problem", problem_to_json(r.problem)},
          {"config", r.config},
          {"members", r.members}};
}

TrialRequest trial_request_from_json(const nlohmann::json& j) {
  return {j.at("kernel").get<std::string>(), problem_from_json(j.at("problem")),
          j.at("config").get<Point>(), j.value("members", std::map<std::string, Point>{})};
}

int serve_worker(TrialRunner& backend) {
  // Keep the protocol channel private: whatever the backend prints to stdout lands on stderr.
  const int out = ::dup(STDOUT_FILENO);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    nlohmann::json reply;
    bool fatal = false;
    try {
      const nlohmann::json req = nlohmann::json::parse(line);
      const std::string op = req.at("op").get<std::string>();
      const TrialRequest tr = trial_request_from_json(req);
      try {
        if (op == "trial") {
          reply["result"] = trial_result_to_json(backend.run_trial(tr));
        } else if (op == "sample") {
          reply["sample_us"] = backend.sample(tr);
        } else {
          reply["error"] = "unknown op '" + op + "'";
        }
      } catch (const WorkerMustExit& e) {
        TrialResult r;
        r.status = TrialStatus::kCrashed;
        r.message = e.what();
        reply["result"] = trial_result_to_json(r);
        reply["sample_us"] = nullptr;
        reply["fatal"] = true;
        fatal = true;
      }
    } catch (const std::exception& e) {
      reply["error"] = std::string("worker: ") + e.what();
    }
    if (!write_all(out, reply.dump() + "\n", false)) return 1;
    if (fatal) return 3;
  }
  return 0;
}

ProcessRunner::ProcessRunner(std::vector<std::string> argv, double timeout_s)
    : argv_(std::move(argv)), timeout_s_(timeout_s) {
  QLA_REQUIRE(!argv_.empty(), "worker command line is empty");
}

ProcessRunner::ProcessRunner(ProcessRunner&& o) noexcept
    : argv_(std::move(o.argv_)),
      timeout_s_(o.timeout_s_),
      pid_(o.pid_),
      fd_(o.fd_),
      buffer_(std::move(o.buffer_)),
      started_(o.started_) {
  o.pid_ = -1;
  o.fd_ = -1;
}

ProcessRunner& ProcessRunner::operator=(ProcessRunner&& o) noexcept {
  if (this != &o) {
    stop(false);
    argv_ = std::move(o.argv_);
    timeout_s_ = o.timeout_s_;
    pid_ = o.pid_;
    fd_ = o.fd_;
    buffer_ = std::move(o.buffer_);
    started_ = o.started_;
    o.pid_ = -1;
    o.fd_ = -1;
  }
  return *this;
}

ProcessRunner::~ProcessRunner() { stop(false); }

std::vector<std::string> ProcessRunner::self_worker_argv(const std::vector<std::string>& extra) {
  std::vector<std::string> argv{"/proc/self/exe", "worker"};
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n > 0) argv[0] = std::string(path, static_cast<std::size_t>(n));
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

void ProcessRunner::start() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    raise_api_error("POSIX", __FILE__, __LINE__, "socketpair", std::strerror(errno));
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) raise_api_error("POSIX", __FILE__, __LINE__, "fork", std::strerror(errno));
  if (pid == 0) {
    // Child: its own process group, so a Ctrl-C at the terminal reaches only the tuner, which then
    // stops cleanly after the trial in flight; and it dies with the parent.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(sv[1], STDIN_FILENO);
    ::dup2(sv[1], STDOUT_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(sv[1]);
  pid_ = pid;
  fd_ = sv[0];
  buffer_.clear();
  ++started_;
}

void ProcessRunner::stop(bool kill_it) {
  if (fd_ >= 0) ::close(fd_);  // EOF on the worker's stdin: a healthy worker exits by itself
  fd_ = -1;
  if (pid_ > 0) {
    if (kill_it) ::kill(pid_, SIGKILL);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      ::usleep(2000);
    }
  }
  pid_ = -1;
}

ProcessRunner::Reply ProcessRunner::call(const nlohmann::json& request) {
  if (pid_ < 0) start();
  Reply reply;
  auto died = [&](const std::string& what) {
    int status = 0;
    ::close(fd_);
    fd_ = -1;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    reply.failure = TrialStatus::kCrashed;
    reply.message = what + describe_exit(status);
    return reply;
  };
  if (!write_all(fd_, request.dump() + "\n", true)) return died("could not send the request: ");
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
  for (;;) {
    const auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      const std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      try {
        reply.body = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        stop(true);
        reply.failure = TrialStatus::kCrashed;
        reply.message = "worker answered garbage; restarted";
        return reply;
      }
      if (reply.body.value("fatal", false)) stop(false);
      return reply;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      stop(true);
      reply.failure = TrialStatus::kTimeout;
      reply.message = "no answer within " + std::to_string(timeout_s_) + " s; worker killed";
      return reply;
    }
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) return died("poll failed: ");
    if (r <= 0) continue;
    char buf[65536];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return died("");
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

TrialResult ProcessRunner::run_trial(const TrialRequest& request) {
  nlohmann::json req = trial_request_to_json(request);
  req["op"] = "trial";
  Reply reply = call(req);
  if (reply.failure != TrialStatus::kOk) {
    TrialResult r;
    r.status = reply.failure;
    r.message = reply.message;
    return r;
  }
  if (reply.body.contains("error")) {
    TrialResult r;
    r.status = TrialStatus::kLaunchError;
    r.message = reply.body["error"].get<std::string>();
    return r;
  }
  return trial_result_from_json(reply.body.at("result"));
}

double ProcessRunner::sample(const TrialRequest& request) {
  nlohmann::json req = trial_request_to_json(request);
  req["op"] = "sample";
  const Reply reply = call(req);
  const auto it = reply.body.find("sample_us");
  if (reply.failure != TrialStatus::kOk || it == reply.body.end() || !it->is_number())
    return std::numeric_limits<double>::infinity();
  return it->get<double>();
}

}  // namespace qla::tuner
