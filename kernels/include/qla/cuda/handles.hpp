// Move-only owners of CUDA runtime streams and events, for the bench, the tuner's measurement core
// and tests (device memory: qla/cuda/device_buffer.hpp). Header-only; errors throw qla::ApiError.
#pragma once

#include <cuda_runtime_api.h>

#include <utility>

#include "qla/cuda/check.hpp"

namespace qla::cuda {

/// A CUDA event with timing enabled.
class Event {
 public:
  Event() { QLA_CUDA_CHECK(cudaEventCreate(&event_)); }
  Event(Event&& o) noexcept : event_(std::exchange(o.event_, nullptr)) {}
  Event& operator=(Event&& o) noexcept {
    if (this != &o) {
      reset();
      event_ = std::exchange(o.event_, nullptr);
    }
    return *this;
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { reset(); }

  cudaEvent_t get() const { return event_; }

 private:
  void reset() noexcept {
    if (event_) cudaEventDestroy(event_);  // teardown errors (context gone) are not actionable
    event_ = nullptr;
  }
  cudaEvent_t event_ = nullptr;
};

/// A non-blocking CUDA stream.
class Stream {
 public:
  Stream() { QLA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  Stream(Stream&& o) noexcept : stream_(std::exchange(o.stream_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      reset();
      stream_ = std::exchange(o.stream_, nullptr);
    }
    return *this;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { reset(); }

  cudaStream_t get() const { return stream_; }

 private:
  void reset() noexcept {
    if (stream_) cudaStreamDestroy(stream_);
    stream_ = nullptr;
  }
  cudaStream_t stream_ = nullptr;
};

/// Milliseconds between two recorded events (synchronises on `stop`).
inline float elapsed_ms(const Event& start, const Event& stop) {
  QLA_CUDA_CHECK(cudaEventSynchronize(stop.get()));
  float ms = 0;
  QLA_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return ms;
}

}  // namespace qla::cuda
