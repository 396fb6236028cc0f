#include "ref_common.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>

#include "qla/error.hpp"

namespace qla::ref::detail {

void check_size(const std::vector<double>& values, std::size_t expected, const char* tensor) {
  QLA_REQUIRE(values.size() == expected, "reference: tensor " << tensor << " has " << values.size()
                                                              << " elements, expected "
                                                              << expected);
}

void check_forward_inputs(const ForwardInputs& in) {
  const gdn::Problem& p = in.problem;
  p.validate();
  const auto rows = static_cast<std::size_t>(p.total_tokens());
  check_size(in.q, rows * p.h_qk * p.k_dim, "q");
  check_size(in.k, rows * p.h_qk * p.k_dim, "k");
  check_size(in.v, rows * p.h_v * p.v_dim, "v");
  check_size(in.g, rows * p.h_v, "g");
  check_size(in.beta, rows * p.h_v, "beta");
  const auto state = static_cast<std::size_t>(p.num_sequences()) * p.h_v * p.k_dim * p.v_dim;
  if (p.initial_state) {
    check_size(in.h0, state, "h0");
  } else {
    QLA_REQUIRE(in.h0.empty(), "reference: tensor h0 given but the problem has no initial state");
  }
}

namespace {

// y = x / sqrt(sum x^2 + 1e-6) per vector of `dim` values; the epsilon is FlashQLA's, kept in
// float64.
void l2_normalise(const std::vector<double>& x, int dim, std::vector<double>& y,
                  std::vector<double>& rstd) {
  const std::size_t vectors = x.size() / dim;
  y.resize(x.size());
  rstd.resize(vectors);
  for (std::size_t i = 0; i < vectors; ++i) {
    const ConstVectorMap xi(x.data() + i * dim, dim);
    const double r = 1.0 / std::sqrt(xi.squaredNorm() + 1e-6);
    rstd[i] = r;
    VectorMap(y.data() + i * dim, dim) = xi * r;
  }
}

}  // namespace

QkView make_qk_view(const ForwardInputs& in) {
  QkView view;
  if (in.problem.l2norm_qk) {
    l2_normalise(in.q, in.problem.k_dim, view.q_norm, view.q_rstd);
    l2_normalise(in.k, in.problem.k_dim, view.k_norm, view.k_rstd);
    view.q = &view.q_norm;
    view.k = &view.k_norm;
  } else {
    view.q = &in.q;
    view.k = &in.k;
  }
  return view;
}

void parallel_for(std::size_t count, const std::function<void(std::size_t)>& body) {
  if (count == 0) return;
  const std::size_t hw = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t workers = std::min(hw, count);
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        body(i);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = count;  // stop handing out work
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(workers - 1);
  for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

HeadTask head_task(const gdn::Problem& p, std::size_t i) {
  HeadTask t;
  t.seq = static_cast<std::int64_t>(i / p.h_v);
  t.head = static_cast<int>(i % p.h_v);
  t.qk_head = t.head / p.group_size();
  t.begin = p.seq_begin(t.seq);
  t.length = p.seq_length(t.seq);
  return t;
}

}  // namespace qla::ref::detail
