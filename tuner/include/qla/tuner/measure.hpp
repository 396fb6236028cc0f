// The measurement core, shared by the tuner and bench/: NVBench's cold-measurement
// method with CUPTI.
//
//  * Each sample: scrub the L2 (a memset of ≥ 2× the L2 size on the same stream), then run the op
//  once.
//    Its time is the GPU span from the first kernel's start to the last kernel's end, read from
//    CUPTI activity records (CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), with each kernel's own
//    duration; CUDA events around the op give a second time (the fallback when CUPTI cannot
//    subscribe, e.g. another profiler is attached, and a cross-check: events include launch gaps,
//    so event ≥ span minus timer jitter).
//  * Warm-up runs first; then adaptive sampling: at least `min_samples`, stop when the relative
//  noise of the
//    median is under `target_noise`, when it stops falling, at `max_samples` or at the time cap.
//  * The SM clock is read through NVML (dlopen'ed libnvidia-ml.so.1; absent NVML = no check) after
//  each sample;
//    samples taken while the clock sagged below `throttle_fraction` of the highest clock seen are
//    discarded.
//  * Graph mode reproduces FlashQLA's published method: many calls captured in one CUDA graph,
//    the L2 flushed before each replay, result = mean over replays of replay time / calls per
//    replay.
//
// CUPTI is called only once a device exists; on a machine without a GPU nothing here is reached.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qla/tuner/trial.hpp"

namespace qla::tuner {

struct MeasureOptions {
  int warmup = 3;  ///< untimed runs before sampling (also JIT/load warm-up)
  int min_samples = 10;
  int max_samples = 300;
  double target_noise = 0.01;       ///< stop when the median's relative noise is below this
  double max_seconds = 2.0;         ///< time cap per measure() call, wall seconds
  bool flush_l2 = true;             ///< scrub the L2 before each sample
  bool use_cupti = true;            ///< false: events only
  double throttle_fraction = 0.95;  ///< SM clock below this × the highest seen → sample discarded
};

/// One op launch: enqueues every kernel of the op on `stream` (no synchronisation inside).
using OpFn = std::function<void(cudaStream_t stream)>;

/// Result of measure().
struct MeasureResult {
  TimeStats time;        ///< op span (CUPTI), or event time when CUPTI is not active
  TimeStats event_time;  ///< CUDA events around the op, always measured
  std::vector<KernelTime>
      kernels;  ///< median duration per kernel name (CUPTI only), in first-seen order
  bool used_cupti = false;
  int discarded_throttled = 0;  ///< samples thrown away because the SM clock sagged
  int sm_clock_mhz = 0;         ///< highest SM clock seen, 0 when NVML is unavailable
};

/// One kernel's mean duration per call over a graph's timed replays.
struct KernelMean {
  std::string name;  ///< kernel (function) name as CUPTI reports it
  double mean_us = 0;
};

/// Result of measure_graph().
struct GraphResult {
  double mean_us = 0;  ///< mean over replays of (replay time / calls per replay)
  int calls_per_replay = 0;
  int replays = 0;
  /// Per kernel name, in first-seen order, its summed CUPTI durations over the timed replays
  /// divided by the calls (empty when timing with events). Kernels that overlap (programmatic
  /// dependent launch: a kernel's span includes its wait for the previous one) can sum past
  /// mean_us; gaps between kernels make them sum below it.
  std::vector<KernelMean> kernels;
};

/// `calls` back-to-back calls of an op captured as one CUDA graph and instantiated. Launching it
/// enqueues the op's kernels with none of the host's launch work between them, as a deployment
/// that replays a CUDA graph runs them; the GPU's own gaps between kernels stay.
class CapturedOp {
 public:
  /// Captures `op` on `stream` (thread-local capture mode), instantiates and uploads the graph.
  /// Throws (ApiError, or what `op` throws) when that fails; the stream is left usable.
  CapturedOp(const OpFn& op, cudaStream_t stream, int calls = 1);
  CapturedOp(const CapturedOp&) = delete;
  CapturedOp& operator=(const CapturedOp&) = delete;
  ~CapturedOp();
  /// Enqueues the captured calls on `stream`.
  void launch(cudaStream_t stream) const;

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

/// Measures ops on one device. Move-only owner of the scrub buffer, the events, the stream and the
/// CUPTI subscription (one per process: a second Measurer falls back to events).
class Measurer {
 public:
  /// Sets `device` current and allocates. Throws ApiError when a CUDA call fails.
  explicit Measurer(int device, MeasureOptions options = {});
  Measurer(Measurer&&) noexcept;
  Measurer& operator=(Measurer&&) noexcept;
  Measurer(const Measurer&) = delete;
  Measurer& operator=(const Measurer&) = delete;
  ~Measurer();

  /// The stream ops are launched on.
  cudaStream_t stream() const;
  /// Whether CUPTI activity records are being collected (false: events only, and why in
  /// cupti_status()).
  bool cupti_active() const;
  const std::string& cupti_status() const;
  const MeasureOptions& options() const;

  /// Warm-up, then adaptive cold sampling.
  MeasureResult measure(const OpFn& op);
  /// One cold sample (flush, run): span in microseconds (events when CUPTI is off).
  double sample(const OpFn& op);
  /// One sample without the flush (warm L2): for tests of the flush.
  double sample_warm(const OpFn& op);
  /// FlashQLA's CUDA-graph method: `rep_ms` worth of calls captured in one graph, `replays`
  /// replays.
  GraphResult measure_graph(const OpFn& op, double rep_ms = 100, int replays = 10);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Relative noise of the median of `samples` (any order): half the width of the distribution-free
/// ~95 % confidence interval of the median (order statistics n/2 ± 0.98·√n), divided by the median.
/// 0 for < 2 samples.
double median_noise(std::vector<double> samples);
/// Summary statistics; noise as median_noise.
TimeStats summarize(std::vector<double> samples);
/// The adaptive stopping rule, on the samples so far (in arrival order): at least `min_samples`,
/// then stop when the noise is under `target_noise` or no better than it was 10 samples ago.
bool enough_samples(const std::vector<double>& samples, int min_samples, double target_noise);

}  // namespace qla::tuner
