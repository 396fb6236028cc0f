// The chunk forward's untuned V-split rules: FlashQLA's fill rule (the mma.sync variants) and a
// makespan model of the launch (the wgmma variant, whose two widths differ in chains a CTA).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qla/gdn/plan.hpp"

namespace qla::gdn {

int fused_block_v_heuristic(long long ctas_per_slice, int sm_count) {
  const double target = 0.7 * sm_count;
  if (static_cast<double>(ctas_per_slice) >= target) return 128;
  if (2.0 * static_cast<double>(ctas_per_slice) >= target) return 64;
  return 32;
}

namespace {

// How one width of the wgmma chunk forward occupies an SM: how many of its CTAs are resident at
// once, and a chunk's time for a CTA alone on its SM and for one beside another. Measured on an
// H200 (132 SMs, bf16): one chain a CTA (BV = 64) 1.55 µs a chunk alone, 3.36 µs with two CTAs
// on the SM; two chains a CTA (BV = 128) 2.7 µs, one CTA an SM. In units of the first.
struct Occupancy {
  int per_sm;
  double alone;
  double shared;
};
constexpr Occupancy kOneChain{2, 1.0, 2.17};
constexpr Occupancy kTwoChains{1, 1.74, 1.74};
// Past this many waves of two-chain CTAs the SMs stay full either way and two chains a CTA do
// more work a cycle; the model is not run.
constexpr long long kMaxModelWaves = 8;

// When the last of `ctas` (chunks each, in launch order) finishes on `sm_count` SMs: the block
// scheduler gives each CTA, in order, a free slot on the SM with the fewest resident CTAs (the
// lowest index of those), and a CTA's chunks cost `o.alone` or `o.shared` by its SM's residents.
double launch_makespan(const std::vector<double>& ctas, int sm_count, const Occupancy& o) {
  std::vector<std::vector<double>> left(static_cast<std::size_t>(sm_count));  // chunks to run
  std::size_t next = 0;
  const auto place = [&] {
    while (next < ctas.size()) {
      auto sm = std::min_element(left.begin(), left.end(),
                                 [](const auto& a, const auto& b) { return a.size() < b.size(); });
      if (static_cast<int>(sm->size()) >= o.per_sm) return;
      sm->push_back(ctas[next++]);
    }
  };
  const auto cost = [&](const std::vector<double>& sm) {
    return sm.size() > 1 ? o.shared : o.alone;
  };
  double now = 0.0;
  place();
  for (;;) {
    double step = -1.0;  // time to the next CTA's end
    for (const auto& sm : left)
      for (double chunks : sm)
        if (step < 0.0 || chunks * cost(sm) < step) step = chunks * cost(sm);
    if (step < 0.0) return now;  // nothing resident: every CTA has run
    now += step;
    for (auto& sm : left) {
      const double done = step / cost(sm);
      for (double& chunks : sm) chunks -= done;
      sm.erase(std::remove_if(sm.begin(), sm.end(), [](double c) { return c <= 1e-9; }), sm.end());
    }
    place();
  }
}

}  // namespace

int wgmma_block_v_rule(const std::vector<std::int64_t>& item_chunks, int h_v, int sm_count) {
  const long long items = static_cast<long long>(item_chunks.size()) * h_v;
  if (sm_count <= 0 || items > kMaxModelWaves * sm_count) return 128;
  std::vector<double> one_chain, two_chains;  // CTAs in launch order: item, head, V-slice
  one_chain.reserve(static_cast<std::size_t>(2 * items));
  two_chains.reserve(static_cast<std::size_t>(items));
  for (std::int64_t chunks : item_chunks)
    for (int h = 0; h < h_v; ++h) {
      one_chain.insert(one_chain.end(), 2, static_cast<double>(chunks));
      two_chains.push_back(static_cast<double>(chunks));
    }
  return launch_makespan(two_chains, sm_count, kTwoChains) <
                 launch_makespan(one_chain, sm_count, kOneChain)
             ? 128
             : 64;
}

}  // namespace qla::gdn
