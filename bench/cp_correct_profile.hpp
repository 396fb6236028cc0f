// The CP correction's cycle profile (qla_cp_correct_profile): the device side
// (cp_correct_profile.cu, the kernel instantiated with a cycle probe) and the host side
// (cp_correct_profile_main.cpp, the configs and their launch shapes from the op layer) meet here.
#pragma once

#include <array>

#include "qla/gdn/cp_params.hpp"

namespace qla::bench {

/// One profiled config on one shape: one raw sequence of `pieces` pieces that all fall back.
struct CpCorrectProfileRun {
  struct Config {
    int block_v, stage_m, split_k, rows_per_thread;
  } config;
  int heads, pieces, iters;
  std::array<unsigned, 3> grid;  ///< cp_correct_shape's
  unsigned block;
  int smem;  ///< cp_correct_dynamic_smem
};

/// Times the config (CUDA events, mean of `iters` launches), then runs its probed instantiation
/// and prints the cycles per step of each phase for warp 0 and the last warp, and their time at
/// the SM clock the loop ran at. Throws UserError for a config without a probed instantiation.
void profile_cp_correct(const CpCorrectProfileRun& run);

}  // namespace qla::bench
