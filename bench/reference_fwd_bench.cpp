// Google Benchmark of the float64 reference forward (the token recurrence and the chunked form) at
// one shape: B = 1, T = 8192, H_qk = 4, H_v = 16, K = V = 128. Inputs are drawn once per
// process (unit-norm q/k, beta in [0, 1), g = -0.05 softplus(z) per token), so the timing excludes
// input generation.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <ctime>
#include <random>

#include "qla/ref/gdn_reference.hpp"

namespace {

qla::ref::ForwardInputs make_inputs(std::int64_t tokens, int h_qk, int h_v, int dim) {
  qla::ref::ForwardInputs in;
  qla::gdn::Problem& p = in.problem;
  p.batch = 1;
  p.tokens = tokens;
  p.h_qk = h_qk;
  p.h_v = h_v;
  p.k_dim = dim;
  p.v_dim = dim;
  p.initial_state = true;
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform;
  auto fill = [&](std::vector<double>& x, std::size_t n) {
    x.resize(n);
    for (double& e : x) e = normal(rng);
  };
  const auto rows = static_cast<std::size_t>(tokens);
  fill(in.q, rows * h_qk * dim);
  fill(in.k, rows * h_qk * dim);
  fill(in.v, rows * h_v * dim);
  fill(in.h0, static_cast<std::size_t>(h_v) * dim * dim);
  for (std::vector<double>* x : {&in.q, &in.k}) {
    for (std::size_t i = 0; i < x->size(); i += dim) {
      double s = 0.0;
      for (int j = 0; j < dim; ++j) s += (*x)[i + j] * (*x)[i + j];
      for (int j = 0; j < dim; ++j) (*x)[i + j] /= std::sqrt(s);
    }
  }
  in.g.resize(rows * h_v);
  in.beta.resize(rows * h_v);
  for (std::size_t i = 0; i < in.g.size(); ++i) {
    in.g[i] = -0.05 * std::log1p(std::exp(normal(rng)));
    in.beta[i] = uniform(rng);
  }
  return in;
}

const qla::ref::ForwardInputs& bench_inputs() {
  static const qla::ref::ForwardInputs inputs = make_inputs(8192, 4, 16, 128);
  return inputs;
}

// Process CPU seconds of all threads: on a shared 2-core machine the wall time depends on the other
// load, the CPU time per iteration does not (much).
double process_cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

void set_counters(benchmark::State& state, const qla::ref::ForwardInputs& in, double cpu_seconds) {
  const auto& p = in.problem;
  const double token_heads = double(p.total_tokens()) * p.h_v;
  state.counters["token_heads_per_s"] =
      benchmark::Counter(token_heads, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["process_cpu_s"] = cpu_seconds / double(state.iterations());
}

void BM_ReferenceForwardRecurrent(benchmark::State& state) {
  const auto& in = bench_inputs();
  const double cpu_start = process_cpu_seconds();
  for (auto _ : state) {
    qla::ref::ForwardOutputs out = qla::ref::forward_recurrent(in);
    benchmark::DoNotOptimize(out.o.data());
  }
  set_counters(state, in, process_cpu_seconds() - cpu_start);
}
BENCHMARK(BM_ReferenceForwardRecurrent)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

void BM_ReferenceForwardChunked64(benchmark::State& state) {
  const auto& in = bench_inputs();
  const double cpu_start = process_cpu_seconds();
  for (auto _ : state) {
    qla::ref::ForwardOutputs out = qla::ref::forward_chunked(in, 64);
    benchmark::DoNotOptimize(out.o.data());
  }
  set_counters(state, in, process_cpu_seconds() - cpu_start);
}
BENCHMARK(BM_ReferenceForwardChunked64)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
