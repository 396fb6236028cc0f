// `qla tune`: search every forward kernel's configuration space for each problem of a suite on this
// GPU, storing every trial and the winners in SQLite (results/<gpu>.sqlite by default). Ctrl-C
// stops after the trial in flight with everything committed; a rerun resumes. Also the hidden `qla
// worker` mode the tuner runs candidates in (tuner/include/qla/tuner/worker.hpp).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "qla/error.hpp"
#include "qla/tuner/device_report.hpp"
#include "qla/tuner/fake_kernel.hpp"
#include "qla/tuner/gdn_adapter.hpp"
#include "qla/tuner/problem_json.hpp"
#include "qla/tuner/store.hpp"
#include "qla/tuner/suites.hpp"
#include "qla/tuner/tuner.hpp"
#include "qla/tuner/worker.hpp"
#include "qla_git_commit.hpp"

namespace qla::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

struct TuneArgs {
  std::string suite;
  std::vector<std::string> problems;
  std::vector<std::string> kernels;
  std::string strategy = "anneal";
  std::string budget = "48";
  std::string db;
  int device = 0;
  bool json = false;
  long long seed = 42;  // signed, so that "-1" is refused rather than wrapped
  long long transfer = 3;
  double skip_slow = 1.5;
  double timeout_s = 60;
  bool fake = false;                // hidden: tune the fake kernel without a GPU (CLI tests)
  std::vector<std::string> faults;  // hidden, with --fake
};

std::string hostname() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? buf : "";
}

std::string fmt_duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

int run_tune(const TuneArgs& a, const std::string& command_line) {
  QLA_REQUIRE(a.seed >= 0, "--seed: must be >= 0, got " << a.seed);
  QLA_REQUIRE(a.transfer >= 0 && a.transfer <= 1000,
              "--transfer: must be 0..1000, got " << a.transfer);
  QLA_REQUIRE(std::isfinite(a.skip_slow) && (a.skip_slow == 0 || a.skip_slow >= 1),
              "--skip-slow-variants: must be 0 (off) or a ratio >= 1, got " << a.skip_slow);
  QLA_REQUIRE(std::isfinite(a.timeout_s) && a.timeout_s > 0 && a.timeout_s <= 86400,
              "--timeout: must be a number of seconds in (0, 86400], got " << a.timeout_s);
  QLA_REQUIRE(a.fake || a.faults.empty(), "--fault needs --fake");
  // The CPU fake kernel is a test seam: it never writes next to the real stores.
  QLA_REQUIRE(!a.fake || !a.db.empty(), "--fake needs an explicit --db");
  std::vector<gdn::Problem> problems;
  if (!a.suite.empty()) problems = tuner::suite_problems(a.suite);
  for (const auto& p : a.problems) problems.push_back(tuner::parse_problem_spec(p));
  QLA_REQUIRE(!problems.empty(), "give --suite or at least one --problem");
  const tuner::Strategy strategy = tuner::parse_strategy(a.strategy);
  const tuner::Budget budget = tuner::Budget::parse(a.budget);

  tuner::DeviceFingerprint fp;
  ArchInfo arch;
  std::vector<tuner::TunableKernel> kernels;
  std::vector<std::string> worker_args;
  if (a.fake) {
    fp.name = "fake device (CPU)";
    kernels.push_back({tuner::fake_space(), "fake-source-1", tuner::fake_compile});
    worker_args = {"--fake"};
    for (const auto& f : a.faults) worker_args.insert(worker_args.end(), {"--fault", f});
  } else {
    try {
      fp = tuner::read_fingerprint(a.device);
    } catch (const UserError& e) {
      if (std::string(e.what()).rfind("no CUDA GPU", 0) != 0) throw;
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
    arch = tuner::gdn_arch_info(a.device);
    kernels = tuner::gdn_tunable_kernels(a.kernels, arch);
    worker_args = {"--device", std::to_string(a.device)};
  }
  const std::string db = a.db.empty() ? "results/" + fp.slug() + ".sqlite" : a.db;
  tuner::Store store = tuner::Store::open(db, tuner::Store::Mode::kReadWrite);
  // The op plan is searched jointly: each candidate runs with the other kernels' best configs at
  // its chunk size (kernels are tuned first, problem by problem), and its winner fixes theirs.
  for (tuner::TunableKernel& k : kernels)
    if (k.space.kernel == "gdn.fwd_plan") k.members = tuner::gdn_plan_members(store, fp, arch);
  const std::int64_t run_id = store.begin_run(
      fp, {command_line, QLA_GIT_COMMIT, a.strategy, budget.to_string(), hostname()});
  tuner::ProcessRunner runner(tuner::ProcessRunner::self_worker_argv(worker_args), a.timeout_s);

  g_interrupted = false;
  struct sigaction sa {
  }, old{};
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old);

  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const std::size_t total = problems.size() * kernels.size();
  std::size_t done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };

  tuner::TuneOptions opt;
  opt.strategy = strategy;
  opt.budget = budget;
  opt.seed = static_cast<std::uint64_t>(a.seed);
  opt.transfer = static_cast<std::size_t>(a.transfer);
  opt.stop = [] { return g_interrupted.load(); };
  opt.on_trial = [&](const tuner::TuneProgress& p) {
    if (!tty) return;
    const double eta =
        done ? elapsed() / static_cast<double>(done) * static_cast<double>(total - done) : 0;
    std::fprintf(stderr,
                 "\r\033[K[%zu/%zu] %s %s: %zu trials (%zu resumed), best %.2f us %s, ETA %s",
                 done + 1, total, p.kernel.c_str(), p.problem.c_str(), p.trials, p.resumed,
                 p.best_us, p.best_config.c_str(), done ? fmt_duration(eta).c_str() : "?");
  };
  tuner::Tuner tuner(store, fp, arch, runner, run_id, opt);

  nlohmann::json summary = nlohmann::json::array();
  bool stopped = false;
  for (const gdn::Problem& problem : problems) {
    // Variants of a role (the chunk forward's mma, warp-specialised and wgmma kernels) whose
    // untuned op is far slower than another's get no search, nor do kernels the untuned op does
    // not launch for the problem (the CP kernels without CP): their untuned op is their winner.
    const std::set<std::string> slow = tuner.slow_variants(kernels, problem, a.skip_slow);
    for (const tuner::TunableKernel& k : kernels) {
      const tuner::TuneOutcome out = tuner.tune_or_keep(k, problem, slow);
      ++done;
      if (tty) std::fprintf(stderr, "\r\033[K");
      std::fprintf(stderr,
                   "[%zu/%zu] %s %s: %zu trials (%zu measured, %zu resumed, %zu transferred, %zu "
                   "recalled)",
                   done, total, out.kernel.c_str(), out.problem.c_str(), out.trials, out.measured,
                   out.resumed, out.transferred, out.recalled);
      nlohmann::json row = {
          {"kernel", out.kernel},           {"problem", out.problem},   {"trials", out.trials},
          {"measured", out.measured},       {"resumed", out.resumed},   {"seeded", out.seeded},
          {"transferred", out.transferred}, {"recalled", out.recalled}, {"skipped", out.skipped()}};
      if (out.skipped()) row["skip_reason"] = out.skip_reason;
      nlohmann::json statuses;
      for (std::size_t s = 0; s < out.by_status.size(); ++s)
        if (out.by_status[s])
          statuses[std::string(tuner::status_name(static_cast<tuner::TrialStatus>(s)))] =
              out.by_status[s];
      row["measured_by_status"] = statuses;
      if (out.winner) {
        std::fprintf(stderr, ", winner %s %.2f us", out.winner->config.c_str(),
                     out.winner->median_us);
        if (out.winner->default_median_us > 0)
          std::fprintf(stderr, " (default %.2f us, %.2fx)", out.winner->default_median_us,
                       out.winner->default_median_us / out.winner->median_us);
        row["winner"] = {{"config", out.winner->config},
                         {"median_us", out.winner->median_us},
                         {"default_median_us", out.winner->default_median_us}};
      }
      if (out.skip_reason == tuner::kSkipSlowVariant)
        std::fprintf(stderr, ", not searched (untuned op over %.4gx another variant's)",
                     a.skip_slow);
      else if (out.skipped())
        std::fprintf(stderr, ", not searched (the untuned op does not launch it here)");
      std::fprintf(stderr, ", elapsed %s\n", fmt_duration(elapsed()).c_str());
      summary.push_back(row);
      if (out.stopped) {
        stopped = true;
        break;
      }
    }
    if (stopped) break;
  }
  store.end_run(run_id);
  ::sigaction(SIGINT, &old, nullptr);
  if (a.json)
    std::printf("%s\n", nlohmann::json({{"store", db},
                                        {"device", fp.describe()},
                                        {"stopped", stopped},
                                        {"seconds", elapsed()},
                                        {"results", summary}})
                            .dump(2)
                            .c_str());
  if (stopped) {
    std::fprintf(stderr,
                 "interrupted: every finished trial is in %s; rerun the same command to resume\n",
                 db.c_str());
    return 130;
  }
  std::fprintf(stderr, "tuned %zu problem(s) x %zu kernel(s) in %s into %s\n", problems.size(),
               kernels.size(), fmt_duration(elapsed()).c_str(), db.c_str());
  return 0;
}

struct WorkerArgs {
  bool fake = false;
  int device = 0;
  double noise = 0;
  std::vector<std::string> faults;
};

int run_worker(const WorkerArgs& a) {
  if (a.fake) {
    tuner::FakeOptions opt;
    opt.noise = a.noise;
    for (const auto& f : a.faults) {
      const auto eq = f.find('=');
      QLA_REQUIRE(eq != std::string::npos, "--fault: expected LABEL=KIND, got '" << f << "'");
      opt.faults[f.substr(0, eq)] = tuner::parse_fake_fault(f.substr(eq + 1));
    }
    tuner::FakeBackend backend(opt);
    return tuner::serve_worker(backend);
  }
  std::unique_ptr<tuner::TrialRunner> backend = tuner::make_gdn_backend(a.device);
  return tuner::serve_worker(*backend);
}

}  // namespace

void add_tune_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "tune", "Tune every forward kernel's configuration on this GPU into a store");
  auto a = std::make_shared<TuneArgs>();
  cmd->add_option(
      "--suite", a->suite,
      "Named problem set: smoke | headline (5 heads x 4 sets) | qwen35-fwd (FlashQLA's benchmark)");
  cmd->add_option(
      "--problem", a->problems,
      "Problem(s): T, BxT or L1+L2+... (packed) then @HQKxHV, e.g. 1x32768@2x8, 28672+4096@16x32");
  cmd->add_option("--kernels", a->kernels,
                  "Kernel ids to tune (default: every kernel of the fused forward)")
      ->delimiter(',');
  cmd->add_option("--strategy", a->strategy, "exhaustive | random | anneal")->capture_default_str();
  cmd->add_option("--budget", a->budget, "Per kernel and problem: trials (N) or time (Ns, Nm)")
      ->capture_default_str();
  cmd->add_option("--db", a->db, "SQLite store (default results/<gpu-name>.sqlite)");
  cmd->add_option("--device", a->device, "CUDA device index")->capture_default_str();
  cmd->add_flag("--json", a->json, "Print a JSON summary on stdout");
  cmd->add_option("--seed", a->seed, "Seed of the random and anneal strategies")
      ->capture_default_str();
  cmd->add_option("--transfer", a->transfer,
                  "Evaluate the winners of this many nearest tuned problems of the same heads "
                  "first, after the untuned op and, where a kernel's sources changed since, the "
                  "problem's previous winner (0: neither)")
      ->capture_default_str();
  cmd->add_option("--skip-slow-variants", a->skip_slow,
                  "No search for a kernel whose untuned op takes more than this many times "
                  "another variant's of its role (the chunk forward's, the CP state pass's) on "
                  "the problem; only its untuned op is measured (0: search every variant)")
      ->capture_default_str();
  cmd->add_option("--timeout", a->timeout_s, "Watchdog per candidate, seconds")
      ->capture_default_str();
  cmd->add_flag("--fake", a->fake, "Tune the CPU fake kernel (tests)")->group("");
  cmd->add_option("--fault", a->faults, "With --fake: LABEL=segv|abort|hang|invalid|launch|sticky")
      ->group("");
  cmd->callback([a] {
    std::ostringstream line;
    line << "qla tune";
    if (!a->suite.empty()) line << " --suite " << a->suite;
    for (const auto& p : a->problems) line << " --problem " << p;
    if (!a->kernels.empty()) {
      line << " --kernels ";
      for (std::size_t i = 0; i < a->kernels.size(); ++i) line << (i ? "," : "") << a->kernels[i];
    }
    line << " --strategy " << a->strategy << " --budget " << a->budget << " --device " << a->device
         << " --seed " << a->seed << " --transfer " << a->transfer << " --skip-slow-variants "
         << a->skip_slow;
    exit_code() = run_tune(*a, line.str());
  });

  CLI::App* worker =
      app.add_subcommand("worker", "")->group("");  // hidden: the tuner's candidate process
  auto w = std::make_shared<WorkerArgs>();
  worker->add_flag("--fake", w->fake);
  worker->add_option("--device", w->device);
  worker->add_option("--noise", w->noise);
  worker->add_option("--fault", w->faults);
  worker->callback([w] { exit_code() = run_worker(*w); });
}

}  // namespace qla::cli
