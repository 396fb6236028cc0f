#include "qla/gdn/cp.hpp"

#include <algorithm>
#include <cmath>

#include "qla/cuda/kernel_catalog.hpp"

namespace qla::gdn {

const SpaceDecl& cp_warmup_space() {
  static const SpaceDecl space = [] {
    SpaceDecl s;
    s.kernel = "gdn.cp_warmup";
    return s;
  }();
  return space;
}

const SpaceDecl& cp_correct_space() {
  static const SpaceDecl space = [] {
    SpaceDecl s;
    s.kernel = "gdn.cp_correct";
    s.axes = {{"block_v", "bv", {16, 32, 64}, "state columns per CTA"}};
    s.default_point = CpCorrectConfig{}.to_point();
    return s;
  }();
  return space;
}

cuda::KernelSpec cp_warmup_spec() { return {"gdn/cp_warmup.cuh", "qla::gdn::cp_warmup_counts_kernel<0>"}; }

cuda::KernelSpec cp_correct_spec(const CpCorrectConfig& c) {
  return {"gdn/cp_correct.cuh", "qla::gdn::cp_correct_states_kernel<" + std::to_string(c.block_v) + ">"};
}

cuda::LaunchShape cp_warmup_shape(int num_pieces, int heads) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(num_pieces), 1, 1};
  s.block = {static_cast<unsigned>((heads + 31) / 32 * 32), 1, 1};
  return s;
}

cuda::LaunchShape cp_correct_shape(const CpCorrectConfig& c, int heads, int raw_sequences) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(128 / c.block_v), static_cast<unsigned>(heads),
            static_cast<unsigned>(raw_sequences)};
  s.block = {128, 1, 1};
  return s;
}

int cp_piece_chunks_heuristic(int heads, long long total_chunks, int sm_count) {
  const double x = 3.0 * std::sqrt(static_cast<double>(heads) * static_cast<double>(total_chunks) /
                                   std::max(sm_count, 1));
  const int l = 1 << static_cast<int>(std::lround(std::log2(std::max(x, 1.0))));
  return std::max(l, 4);
}

namespace {
const bool kRegisteredWarmup = cuda::register_kernel_family(
    {&cp_warmup_space(), [](const Point&) { return std::vector<cuda::KernelSpec>{cp_warmup_spec()}; }});
const bool kRegisteredCorrect = cuda::register_kernel_family(
    {&cp_correct_space(), [](const Point& p) {
       return std::vector<cuda::KernelSpec>{cp_correct_spec(CpCorrectConfig::from_point(p))};
     }});
}  // namespace

}  // namespace qla::gdn
