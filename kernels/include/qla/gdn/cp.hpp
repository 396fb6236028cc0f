// Context parallelism (CP) small kernels: warm-up counts (GDN.md §2.5) and the serial correction of the pieces'
// initial states (§2.6). Host side; device code gdn/cp_warmup.cuh and gdn/cp_correct.cuh.
#pragma once

#include <string>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/gdn/cp_params.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// Config of cp_correct_states_kernel. Label e.g. "bv32".
struct CpCorrectConfig {
  int block_v = 32;  ///< V columns per CTA (16, 32, 64)
  Point to_point() const { return {block_v}; }
  static CpCorrectConfig from_point(const Point& p) { return {p.at(0)}; }
};

/// Space "gdn.cp_warmup" (no axes: one point).
const SpaceDecl& cp_warmup_space();
/// Space "gdn.cp_correct".
const SpaceDecl& cp_correct_space();
cuda::KernelSpec cp_warmup_spec();
cuda::KernelSpec cp_correct_spec(const CpCorrectConfig& c);
/// Grid (pieces), ceil(heads/32)*32 threads.
cuda::LaunchShape cp_warmup_shape(int num_pieces, int heads);
/// Grid (128/BV, heads, raw sequences), 128 threads.
cuda::LaunchShape cp_correct_shape(const CpCorrectConfig& c, int heads, int raw_sequences);

/// FlashQLA's piece length in chunks (GDN.md §3.2): 2^round(log2(3·sqrt(heads·total_chunks/sm_count))), ≥ 4.
int cp_piece_chunks_heuristic(int heads, long long total_chunks, int sm_count);

}  // namespace qla::gdn
