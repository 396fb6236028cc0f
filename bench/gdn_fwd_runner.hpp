// Runs the GDN forward of one benchmark shape on the GPU for every implementation the bench
// compares, on one set of inputs: generated once per shape from FlashQLA's benchmark distribution
// (fixed seed, the same bytes `qla generate --dist bench` writes for bench/fla_bench.py),
// uploaded once, shared by every implementation. Before an implementation is timed its outputs are
// poisoned (NaN), computed once and compared with the naive kernel's on the same inputs; the naive
// kernel itself is compared once per head configuration with the float64 reference on a short
// two-sequence problem. Timing goes through the tuner's measurement core
// (tuner/include/qla/tuner/measure.hpp) in cold or CUDA-graph mode.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "bench_document.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/io/generate.hpp"
#include "qla/space.hpp"
#include "qla/tuner/fingerprint.hpp"
#include "qla/tuner/measure.hpp"
#include "qla/tuner/shape_matrix.hpp"

namespace qla::bench {

/// What the runner needs beyond the shapes.
struct RunnerOptions {
  int device = 0;
  std::uint64_t seed = 42;  ///< input generator seed (bench/fla_bench.py uses 42 too)
  /// kBench (FlashQLA's benchmark inputs) or kBenchDecaying (every head's gate kept)
  gdn::Distribution distribution = gdn::Distribution::kBench;
  std::string db;  ///< tuning store for the qla-tuned rows; empty = none (tuned rows skipped)
  double tolerance = 0.005;  ///< rel. Frobenius bound against the naive kernel (the project's bar)
  tuner::MeasureOptions measure;  ///< cold mode
  double graph_rep_ms =
      100;  ///< graph mode: calls captured per graph ≈ this budget / one call's time
  int graph_replays = 10;  ///< graph mode: replays averaged (FlashQLA: 10)
  bool pdl = true;  ///< the fused path's kernels chained by programmatic dependent launch (sm_90+)
  unsigned pdl_cp = 0;  ///< with CP, the kernels chained so (gdn::PlanOptions, a CpLaunch mask)
  /// kPrepared: each plan's work lists are built once (gdn::prepare_lists) before its validation
  /// and its timed calls, which then skip that launch (as FlashQLA's timed calls skip its CP
  /// context).
  gdn::Lists lists = gdn::Lists::kBuild;
  /// Kernel configs forced on every qla implementation (over the tuned lookup and the defaults).
  std::map<std::string, qla::Point> configs;
};

/// The outcome of timing one (shape, implementation, mode): a row, or why there is none.
struct Outcome {
  std::optional<Row> row;
  std::string skipped;  ///< non-empty when row is empty
};

class GdnFwdRunner {
 public:
  /// Opens device `options.device` (it must exist: callers check first), the measurement core and,
  /// when options.db is set, the tuning store's lookup (UserError when the store cannot be read).
  explicit GdnFwdRunner(RunnerOptions options);
  ~GdnFwdRunner();
  GdnFwdRunner(const GdnFwdRunner&) = delete;
  GdnFwdRunner& operator=(const GdnFwdRunner&) = delete;

  const tuner::DeviceFingerprint& fingerprint() const;
  /// Whether qla-tuned rows can be produced (a store was opened).
  bool has_store() const;
  /// Whether the cold mode reads CUPTI records (else CUDA events), and why not.
  std::string timer_status() const;

  /// Times `implementation` (kImpl*) on `shape` in `mode` (kMode*). Loads the shape's inputs and
  /// the naive outputs on first use (the previous shape's buffers are released), validates the
  /// implementation once per shape, then measures. `ceilings` only feed the row's rates.
  Outcome run(const Shape& shape, const std::string& implementation, const std::string& mode,
              const Ceilings& ceilings);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qla::bench
