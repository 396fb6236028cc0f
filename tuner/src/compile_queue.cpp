#include "qla/tuner/compile_queue.hpp"

#include <exception>

namespace qla::tuner {

CompileQueue::CompileQueue(CompileFn fn, int threads) : fn_(std::move(fn)) {
  for (int i = 0; i < std::max(threads, 1); ++i) threads_.emplace_back([this] { work(); });
}

CompileQueue::~CompileQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void CompileQueue::prefetch(const std::string& key, const Point& point) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (results_.count(key)) return;
    auto promise = std::make_shared<std::promise<CompileResult>>();
    results_[key] = promise->get_future().share();
    queue_.emplace_back(point, std::move(promise));
  }
  cv_.notify_one();
}

CompileResult CompileQueue::get(const std::string& key, const Point& point) {
  std::shared_future<CompileResult> f;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = results_.find(key);
    if (it != results_.end()) {
      f = it->second;
    } else {
      // Needed now: put it at the front rather than behind speculative work.
      auto promise = std::make_shared<std::promise<CompileResult>>();
      f = results_[key] = promise->get_future().share();
      queue_.emplace_front(point, std::move(promise));
    }
  }
  cv_.notify_one();
  return f.get();
}

std::size_t CompileQueue::compiled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return compiled_;
}

void CompileQueue::work() {
  for (;;) {
    std::pair<Point, std::shared_ptr<std::promise<CompileResult>>> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return done_ || !queue_.empty(); });
      if (done_) {
        // Shutting down: speculative work nobody waited for is cancelled, not compiled.
        for (auto& left : queue_) left.second->set_value(CompileResult{false, "cancelled", {}});
        queue_.clear();
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
      ++compiled_;
    }
    CompileResult r;
    try {
      if (fn_) r = fn_(job.first);
    } catch (const std::exception& e) {
      r.ok = false;
      r.message = e.what();
    }
    job.second->set_value(std::move(r));
  }
}

}  // namespace qla::tuner
