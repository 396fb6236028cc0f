// Compile-ahead: candidates the searcher will propose next are compiled on host threads (NVRTC for
// the real kernels) while the GPU measures the current one. The compile function is a callback, so
// the fake kernel of the tests needs none and the queue knows nothing of NVRTC.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "qla/space.hpp"
#include "qla/tuner/runner.hpp"

namespace qla::tuner {

/// A fixed pool of compile threads with a memo: each key (config label) is compiled at most once.
class CompileQueue {
 public:
  using CompileFn = std::function<CompileResult(const Point&)>;
  /// `fn` may be empty (nothing to compile: every result is ok). `threads` ≥ 1.
  CompileQueue(CompileFn fn, int threads);
  CompileQueue(const CompileQueue&) = delete;
  CompileQueue& operator=(const CompileQueue&) = delete;
  ~CompileQueue();

  /// Queues `point` under `key` unless it was queued before.
  void prefetch(const std::string& key, const Point& point);
  /// The result for `key`, compiling it now (ahead of the queue) when it was never queued. An
  /// exception from the compile function becomes a failed result carrying its message.
  CompileResult get(const std::string& key, const Point& point);
  /// Compilations started so far (for tests).
  std::size_t compiled() const;

 private:
  void work();

  CompileFn fn_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Point, std::shared_ptr<std::promise<CompileResult>>>> queue_;
  std::map<std::string, std::shared_future<CompileResult>> results_;
  std::vector<std::thread> threads_;
  std::size_t compiled_ = 0;
  bool done_ = false;
};

}  // namespace qla::tuner
