// A fake kernel family with a synthetic cost, so the search, store, lookup, isolation and tuning
// loop can be tested without a GPU (and run end to end through `qla worker --fake`). Not a kernel:
// nothing is launched.
//
// Space "test.fake": chunk c{32,64,128} × block_v bv{16,32,64,128} × stages s{1,2,3,4} × warps
// w{4,8,16} × unroll u{1,2,4,8} (576 points, a few unbuildable). The cost is a smooth bowl in log2
// of the values whose minimum moves with the problem's token count, scaled by the problem's work;
// exact (noise-free) unless noise is asked for. Faults are test-only: a config label can be made to
// segfault, abort, hang, fail validation, fail to launch or hit a "sticky" error inside the worker.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "qla/space.hpp"
#include "qla/tuner/runner.hpp"

namespace qla::tuner {

/// What a faulty fake config does when it runs (test-only).
enum class FakeFault : std::uint8_t {
  kNone,
  kSegfault,
  kAbort,
  kHang,
  kInvalid,
  kLaunchError,
  kSticky
};

/// "segv", "abort", "hang", "invalid", "launch", "sticky"; throws UserError for other text.
FakeFault parse_fake_fault(const std::string& name);

/// The space of the fake kernel (kernel id "test.fake").
SpaceDecl fake_space();

/// Synthetic op time of `config` on `problem`, microseconds (> 0). Deterministic.
double fake_cost_us(const Point& config, const gdn::Problem& problem);

/// The fake compile step: configs with chunk 128 and 4 warps "exceed the register file" (compile
/// error).
CompileResult fake_compile(const Point& config);

struct FakeOptions {
  double noise = 0;                         ///< relative standard deviation of each sample
  std::uint64_t seed = 1;                   ///< drives the sample noise
  std::map<std::string, FakeFault> faults;  ///< by config label
  /// Kernel id → factor on the synthetic cost (a slower variant of the same role); absent: 1.
  std::map<std::string, double> kernel_scale;
};

/// The fake backend: validates (errors 0 unless kInvalid) then "measures" 10 samples of the
/// synthetic cost.
class FakeBackend final : public TrialRunner {
 public:
  explicit FakeBackend(FakeOptions options);
  TrialResult run_trial(const TrialRequest& request) override;
  double sample(const TrialRequest& request) override;
  int trials_run() const { return trials_; }

 private:
  double noisy(double us);
  double scale(const std::string& kernel) const;
  void fault_if_asked(const std::string& label);

  FakeOptions options_;
  SpaceDecl space_;
  std::uint64_t counter_ = 0;
  int trials_ = 0;
};

}  // namespace qla::tuner
