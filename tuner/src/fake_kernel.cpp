#include "qla/tuner/fake_kernel.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <thread>

#include "qla/error.hpp"
#include "qla/tuner/worker.hpp"

namespace qla::tuner {

FakeFault parse_fake_fault(const std::string& name) {
  if (name == "segv") return FakeFault::kSegfault;
  if (name == "abort") return FakeFault::kAbort;
  if (name == "hang") return FakeFault::kHang;
  if (name == "invalid") return FakeFault::kInvalid;
  if (name == "launch") return FakeFault::kLaunchError;
  if (name == "sticky") return FakeFault::kSticky;
  throw UserError("--fault: unknown fault '" + name +
                  "' (segv, abort, hang, invalid, launch, sticky)");
}

SpaceDecl fake_space() {
  SpaceDecl s;
  s.kernel = "test.fake";
  s.axes = {{"chunk", "c", {32, 64, 128}, "tokens per chunk"},
            {"block_v", "bv", {16, 32, 64, 128}, "value columns per CTA"},
            {"stages", "s", {1, 2, 3, 4}, "pipeline stages"},
            {"warps", "w", {4, 8, 16}, "warps per CTA"},
            {"unroll", "u", {1, 2, 4, 8}, "inner loop unroll"}};
  s.default_point = {64, 64, 2, 8, 2};
  // "Shared memory": chunk × block_v × stages tiles of 2 bytes must fit 64 KB.
  s.buildable = [](const Point& p, const ArchInfo&) { return p[0] * p[1] * p[2] * 2 <= 64 * 1024; };
  return s;
}

double fake_cost_us(const Point& p, const gdn::Problem& problem) {
  const double tokens = static_cast<double>(std::max<std::int64_t>(problem.valid_tokens(), 1));
  const double work_us = 5.0 + tokens * problem.h_v / 2000.0;
  const double xc = std::log2(p[0]), xb = std::log2(p[1]), s = p[2], xw = std::log2(p[3]),
               xu = std::log2(p[4]);
  const double tb =
      std::clamp(std::log2(tokens) / 2 - 1.5, 4.0, 7.0);  // best block_v grows with tokens
  const double bowl = 0.08 * (xc - 6) * (xc - 6) + 0.05 * (xb - tb) * (xb - tb) +
                      0.04 * (s - 2.6) * (s - 2.6) + 0.06 * (xw - 3.2) * (xw - 3.2) +
                      0.03 * (xu - 1.4) * (xu - 1.4) + 0.02 * (xc - 6) * (xb - tb);
  return work_us * (1 + bowl);
}

CompileResult fake_compile(const Point& p) {
  CompileResult r;
  if (p[0] == 128 && p[3] == 4) {
    r.ok = false;
    r.message = "ptxas error: entry function uses too much register space (fake)";
    return r;
  }
  r.resources = {32 + 8 * p[2] + p[1] / 8, p[0] * p[1] * p[2] * 2, 0};
  return r;
}

FakeBackend::FakeBackend(FakeOptions options)
    : options_(std::move(options)), space_(fake_space()) {}

double FakeBackend::scale(const std::string& kernel) const {
  const auto it = options_.kernel_scale.find(kernel);
  return it == options_.kernel_scale.end() ? 1.0 : it->second;
}

double FakeBackend::noisy(double us) {
  if (options_.noise <= 0) return us;
  std::mt19937_64 rng(options_.seed * 0x9E3779B97F4A7C15ull + ++counter_);
  std::normal_distribution<double> n(0.0, options_.noise);
  return us * std::max(0.5, 1 + n(rng));
}

void FakeBackend::fault_if_asked(const std::string& label) {
  const auto it = options_.faults.find(label);
  if (it == options_.faults.end()) return;
  switch (it->second) {
    case FakeFault::kSegfault:
      std::raise(SIGSEGV);
      break;
    case FakeFault::kAbort:
      std::abort();
    case FakeFault::kHang:
      // Test hook: say where the hang begins, so a test can act inside it without guessing a time.
      if (const char* marker = std::getenv("QLA_FAKE_HANG_MARKER")) {
        if (std::FILE* f = std::fopen(marker, "a")) {
          std::fprintf(f, "%s\n", label.c_str());
          std::fclose(f);
        }
      }
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    case FakeFault::kSticky:
      throw WorkerMustExit("cudaErrorIllegalAddress (fake sticky error): context unusable");
    case FakeFault::kNone:
    case FakeFault::kInvalid:
    case FakeFault::kLaunchError:
      break;
  }
}

TrialResult FakeBackend::run_trial(const TrialRequest& request) {
  ++trials_;
  const std::string label = space_.label(request.config);
  fault_if_asked(label);
  const auto it = options_.faults.find(label);
  const FakeFault fault = it == options_.faults.end() ? FakeFault::kNone : it->second;
  return validate_then_measure(
      [&] {
        const double err = fault == FakeFault::kInvalid ? 0.5 : 1e-3;
        return std::vector<OutputError>{{"o", err, err, 0}, {"final_state", 1e-4, 1e-4, 0}};
      },
      [&] {
        if (fault == FakeFault::kLaunchError)
          throw std::runtime_error("cudaErrorInvalidValue (fake launch error)");
        const double exact = fake_cost_us(request.config, request.problem) * scale(request.kernel);
        std::vector<double> s;
        for (int i = 0; i < 10; ++i) s.push_back(noisy(exact));
        std::sort(s.begin(), s.end());
        Measurement m;
        m.time = {0.5 * (s[4] + s[5]), s.front(), s.back(), 10, options_.noise};
        m.kernels = {{"fake_prep", 0.1 * m.time.median_us}, {"fake_main", 0.9 * m.time.median_us}};
        return m;
      });
}

double FakeBackend::sample(const TrialRequest& request) {
  fault_if_asked(space_.label(request.config));
  return noisy(fake_cost_us(request.config, request.problem) * scale(request.kernel));
}

}  // namespace qla::tuner
