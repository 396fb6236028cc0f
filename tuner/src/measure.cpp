#include "qla/tuner/measure.hpp"

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#if QLA_WITH_CUPTI
#include <cupti.h>
#endif

#include "qla/cuda/check.hpp"
#include "qla/cuda/handles.hpp"
#include "qla/error.hpp"

namespace qla::tuner {
namespace {

// ---- CUPTI activity collection (process-wide: CUPTI has one set of buffer callbacks)
// -------------------------

struct KernelRecord {
  std::uint64_t start_ns, end_ns;
  std::string name;
};
#if QLA_WITH_CUPTI

struct CuptiState {
  std::mutex mu;
  std::vector<KernelRecord> records;
  bool enabled = false;
  bool owned = false;  ///< a Measurer currently owns the subscription
  std::string status = "not initialised";
};

CuptiState& cupti_state() {
  static CuptiState s;
  return s;
}

constexpr std::size_t kCuptiBufferBytes = 4u << 20;

void CUPTIAPI buffer_requested(std::uint8_t** buffer, std::size_t* size, std::size_t* max_records) {
  *size = kCuptiBufferBytes;
  *buffer = static_cast<std::uint8_t*>(std::aligned_alloc(8, kCuptiBufferBytes));
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, std::uint32_t, std::uint8_t* buffer, std::size_t,
                               std::size_t valid) {
  CUpti_Activity* rec = nullptr;
  {
    std::lock_guard<std::mutex> lock(cupti_state().mu);
    while (cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS) {
      if (rec->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL &&
          rec->kind != CUPTI_ACTIVITY_KIND_KERNEL)
        continue;
      const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(rec);
      cupti_state().records.push_back({k->start, k->end, k->name ? k->name : "?"});
    }
  }
  std::free(buffer);
}

std::string cupti_error(CUptiResult r) {
  const char* s = nullptr;
  cuptiGetResultString(r, &s);
  return s ? s : "unknown CUPTI error";
}

/// Subscribes once per process; returns whether CUPTI records kernels now, with the reason in
/// status.
bool acquire_cupti() {
  CuptiState& s = cupti_state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.owned) {
    s.status = "CUPTI already used by another Measurer in this process";
    return false;
  }
  if (!s.enabled) {
    CUptiResult r = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed);
    if (r == CUPTI_SUCCESS) r = cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
    if (r != CUPTI_SUCCESS) {
      s.status = "CUPTI unavailable (" + cupti_error(r) + "); timing with CUDA events";
      return false;
    }
    s.enabled = true;
  }
  s.owned = true;
  s.status = "CUPTI activity (concurrent kernel)";
  return true;
}

void release_cupti() {
  std::lock_guard<std::mutex> lock(cupti_state().mu);
  cupti_state().owned = false;
}

/// Flushes CUPTI's buffers and takes every record collected since the last call.
std::vector<KernelRecord> take_records() {
  cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  std::lock_guard<std::mutex> lock(cupti_state().mu);
  std::vector<KernelRecord> out;
  out.swap(cupti_state().records);
  return out;
}
#else
// Built with QLA_WITH_CUPTI=OFF: every Measurer times with CUDA events.
bool acquire_cupti() { return false; }
void release_cupti() {}
std::vector<KernelRecord> take_records() { return {}; }
#endif

// ---- NVML through dlopen (no nvml.h here: the few entry points are declared by hand)
// -------------------------

class Nvml {
 public:
  explicit Nvml(int device) {
    lib_ = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib_) return;
    using InitFn = int (*)();
    using HandleFn = int (*)(const char*, void**);
    auto init = reinterpret_cast<InitFn>(::dlsym(lib_, "nvmlInit_v2"));
    auto handle = reinterpret_cast<HandleFn>(::dlsym(lib_, "nvmlDeviceGetHandleByPciBusId_v2"));
    clock_ = reinterpret_cast<ClockFn>(::dlsym(lib_, "nvmlDeviceGetClockInfo"));
    shutdown_ = reinterpret_cast<InitFn>(::dlsym(lib_, "nvmlShutdown"));
    char bus[64] = {};
    if (!init || !handle || !clock_ || init() != 0) {
      clear();
      return;
    }
    initialised_ = true;
    if (cudaDeviceGetPCIBusId(bus, sizeof bus, device) != cudaSuccess || handle(bus, &device_) != 0)
      clear();
  }
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;
  ~Nvml() { clear(); }
  /// Current SM clock in MHz, 0 when unknown.
  int sm_clock_mhz() const {
    unsigned mhz = 0;
    constexpr int kNvmlClockSm = 1;
    return device_ && clock_(device_, kNvmlClockSm, &mhz) == 0 ? static_cast<int>(mhz) : 0;
  }

 private:
  using ClockFn = int (*)(void*, int, unsigned*);
  void clear() {
    if (initialised_ && shutdown_) shutdown_();
    initialised_ = false;
    device_ = nullptr;
    if (lib_) ::dlclose(lib_);
    lib_ = nullptr;
  }
  void* lib_ = nullptr;
  void* device_ = nullptr;
  ClockFn clock_ = nullptr;
  int (*shutdown_)() = nullptr;
  bool initialised_ = false;
};

struct OneSample {
  double span_us = 0;
  double event_us = 0;
  std::vector<std::pair<std::string, double>> kernels;
  int clock_mhz = 0;
};

}  // namespace

struct Measurer::Impl {
  int device = 0;
  MeasureOptions options;
  // Created after cudaSetDevice, so on the measured device.
  std::optional<cuda::Stream> owned_stream;
  std::optional<cuda::Event> start_event, stop_event;
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  void* scrub = nullptr;
  std::size_t scrub_bytes = 0;
  unsigned scrub_value = 0;
  bool cupti = false;
  std::string cupti_status;
  std::unique_ptr<Nvml> nvml;

  Impl(int dev, MeasureOptions opt) : device(dev), options(opt) {
    QLA_CUDA_CHECK(cudaSetDevice(device));
    int l2 = 0;
    QLA_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device));
    scrub_bytes = std::max<std::size_t>(2 * static_cast<std::size_t>(l2), 8u << 20);  // ≥ 2× L2
    stream = owned_stream.emplace().get();
    start = start_event.emplace().get();
    stop = stop_event.emplace().get();
    QLA_CUDA_CHECK(cudaMalloc(&scrub, scrub_bytes));
    if (options.use_cupti) {
      cupti = acquire_cupti();
#if QLA_WITH_CUPTI
      cupti_status = cupti_state().status;
#else
      cupti_status = "built without CUPTI (QLA_WITH_CUPTI=OFF); timing with CUDA events";
#endif
    } else {
      cupti_status = "CUPTI disabled; timing with CUDA events";
    }
    nvml = std::make_unique<Nvml>(device);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (cupti) release_cupti();
    if (scrub) cudaFree(scrub);
  }

  void flush() {
    // A different byte each time so no layer can elide the write; the memset is not a kernel
    // record.
    QLA_CUDA_CHECK(
        cudaMemsetAsync(scrub, static_cast<int>(++scrub_value & 0xff), scrub_bytes, stream));
  }

  OneSample take(const OpFn& op, bool cold) {
    if (cupti) take_records();  // drop whatever ran before (warm-up, other work)
    if (cold) flush();
    QLA_CUDA_CHECK(cudaEventRecord(start, stream));
    op(stream);
    QLA_CUDA_CHECK(cudaGetLastError());
    QLA_CUDA_CHECK(cudaEventRecord(stop, stream));
    QLA_CUDA_CHECK(cudaStreamSynchronize(stream));
    OneSample s;
    float ms = 0;
    QLA_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    s.event_us = 1e3 * ms;
    s.span_us = s.event_us;
    if (cupti) {
      const std::vector<KernelRecord> recs = take_records();
      if (!recs.empty()) {
        std::uint64_t first = recs[0].start_ns, last = recs[0].end_ns;
        for (const KernelRecord& r : recs) {
          first = std::min(first, r.start_ns);
          last = std::max(last, r.end_ns);
          auto it = std::find_if(s.kernels.begin(), s.kernels.end(),
                                 [&](const auto& k) { return k.first == r.name; });
          const double us = 1e-3 * static_cast<double>(r.end_ns - r.start_ns);
          if (it == s.kernels.end())
            s.kernels.emplace_back(r.name, us);
          else
            it->second += us;
        }
        s.span_us = 1e-3 * static_cast<double>(last - first);
      }
    }
    s.clock_mhz = nvml->sm_clock_mhz();
    return s;
  }
};

Measurer::Measurer(int device, MeasureOptions options)
    : impl_(std::make_unique<Impl>(device, options)) {}
Measurer::Measurer(Measurer&&) noexcept = default;
Measurer& Measurer::operator=(Measurer&&) noexcept = default;
Measurer::~Measurer() = default;

cudaStream_t Measurer::stream() const { return impl_->stream; }
bool Measurer::cupti_active() const { return impl_->cupti; }
const std::string& Measurer::cupti_status() const { return impl_->cupti_status; }
const MeasureOptions& Measurer::options() const { return impl_->options; }

double Measurer::sample(const OpFn& op) { return impl_->take(op, true).span_us; }
double Measurer::sample_warm(const OpFn& op) { return impl_->take(op, false).span_us; }

MeasureResult Measurer::measure(const OpFn& op) {
  Impl& m = *impl_;
  const MeasureOptions& o = m.options;
  for (int i = 0; i < o.warmup; ++i) op(m.stream);
  QLA_CUDA_CHECK(cudaGetLastError());
  QLA_CUDA_CHECK(cudaStreamSynchronize(m.stream));

  MeasureResult out;
  out.used_cupti = m.cupti;
  std::vector<double> spans, events;
  std::vector<std::pair<std::string, std::vector<double>>> kernels;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    const OneSample s = m.take(op, o.flush_l2);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.sm_clock_mhz = std::max(out.sm_clock_mhz, s.clock_mhz);
    const bool throttled = s.clock_mhz > 0 && s.clock_mhz < o.throttle_fraction * out.sm_clock_mhz;
    if (throttled) {
      ++out.discarded_throttled;
    } else {
      spans.push_back(s.span_us);
      events.push_back(s.event_us);
      for (const auto& [name, us] : s.kernels) {
        auto it = std::find_if(kernels.begin(), kernels.end(),
                               [&](const auto& k) { return k.first == name; });
        if (it == kernels.end())
          kernels.emplace_back(name, std::vector<double>{us});
        else
          it->second.push_back(us);
      }
    }
    if (static_cast<int>(spans.size()) >= o.max_samples) break;
    if (enough_samples(spans, o.min_samples, o.target_noise)) break;
    if (elapsed >= o.max_seconds && !spans.empty()) break;
    if (elapsed >= 4 * o.max_seconds) break;  // everything throttled: give up rather than spin
  }
  out.time = summarize(spans);
  out.event_time = summarize(events);
  for (const auto& [name, v] : kernels) out.kernels.push_back({name, summarize(v).median_us});
  return out;
}

CapturedOp::CapturedOp(const OpFn& op, cudaStream_t stream, int calls) {
  QLA_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    for (int i = 0; i < calls; ++i) op(stream);
  } catch (...) {
    // An op that threw inside the capture leaves the stream capturing: end it, so the stream
    // (reused by every later measurement) works again.
    cudaGraph_t partial = nullptr;
    cudaStreamEndCapture(stream, &partial);
    if (partial) cudaGraphDestroy(partial);
    cudaGetLastError();
    throw;
  }
  // A failure below leaves no error pending (the next measurement checks cudaGetLastError).
  if (const cudaError_t e = cudaStreamEndCapture(stream, &graph_); e != cudaSuccess) {
    if (graph_) cudaGraphDestroy(graph_);
    cudaGetLastError();
    cuda::raise_cuda_error(e, __FILE__, __LINE__, "cudaStreamEndCapture");
  }
  const char* step = "cudaGraphInstantiate";
  cudaError_t e = cudaGraphInstantiate(&exec_, graph_, 0);
  if (e == cudaSuccess) {
    step = "cudaGraphUpload";
    e = cudaGraphUpload(exec_, stream);
  }
  if (e != cudaSuccess) {
    if (exec_) cudaGraphExecDestroy(exec_);
    cudaGraphDestroy(graph_);
    cudaGetLastError();
    cuda::raise_cuda_error(e, __FILE__, __LINE__, step);
  }
}

CapturedOp::~CapturedOp() {
  if (exec_) cudaGraphExecDestroy(exec_);
  if (graph_) cudaGraphDestroy(graph_);
}

void CapturedOp::launch(cudaStream_t stream) const {
  QLA_CUDA_CHECK(cudaGraphLaunch(exec_, stream));
}

GraphResult Measurer::measure_graph(const OpFn& op, double rep_ms, int replays) {
  Impl& m = *impl_;
  // Estimate one call (warm), as do_bench does, to size the graph.
  for (int i = 0; i < 3; ++i) m.take(op, false);
  std::vector<double> est;
  for (int i = 0; i < 5; ++i) est.push_back(m.take(op, false).event_us);
  const double est_ms = std::max(1e-3, summarize(est).median_us * 1e-3);
  GraphResult out;
  out.calls_per_replay = static_cast<int>(std::clamp(rep_ms / est_ms, 1.0, 10000.0));
  out.replays = std::max(replays, 1);

  const CapturedOp graph(op, m.stream, out.calls_per_replay);
  graph.launch(m.stream);  // first replay is warm-up
  QLA_CUDA_CHECK(cudaStreamSynchronize(m.stream));
  if (m.cupti) take_records();  // the estimate and the warm-up replay
  double sum_us = 0;
  for (int r = 0; r < out.replays; ++r) {
    m.flush();
    QLA_CUDA_CHECK(cudaEventRecord(m.start, m.stream));
    graph.launch(m.stream);
    QLA_CUDA_CHECK(cudaEventRecord(m.stop, m.stream));
    QLA_CUDA_CHECK(cudaStreamSynchronize(m.stream));
    float ms = 0;
    QLA_CUDA_CHECK(cudaEventElapsedTime(&ms, m.start, m.stop));
    sum_us += 1e3 * ms / out.calls_per_replay;
  }
  if (m.cupti) {
    const double calls = static_cast<double>(out.calls_per_replay) * out.replays;
    for (const KernelRecord& r : take_records()) {
      auto it = std::find_if(out.kernels.begin(), out.kernels.end(),
                             [&](const KernelMean& k) { return k.name == r.name; });
      if (it == out.kernels.end()) it = out.kernels.insert(out.kernels.end(), {r.name, 0.0});
      it->mean_us += 1e-3 * static_cast<double>(r.end_ns - r.start_ns) / calls;
    }
  }
  out.mean_us = sum_us / out.replays;
  return out;
}

}  // namespace qla::tuner
