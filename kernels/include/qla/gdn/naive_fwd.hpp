// Baseline (a), the naive recurrent forward: host side (config space, kernel spec, launch shape, checks).
// Device code: kernels/device/gdn/naive_fwd.cuh; params: naive_fwd_params.hpp.
#pragma once

#include <string>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/gdn/naive_fwd_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// Compile-time config of naive_fwd_kernel. Label e.g. "bv32.ks4".
struct NaiveFwdConfig {
  int block_v = 32;  ///< BV: value columns per CTA (32, 64, 128); grid.x = 128 / BV
  int k_split = 4;   ///< threads per state column (4, 8, 16); each holds 128 / k_split state rows
  Point to_point() const { return {block_v, k_split}; }
  static NaiveFwdConfig from_point(const Point& p) { return {p.at(0), p.at(1)}; }
};

/// Space "gdn.naive_fwd"; buildable: BV*k_split threads in [32, 1024].
const SpaceDecl& naive_fwd_space();
/// Source "gdn/naive_fwd.cuh", name "qla::gdn::naive_fwd_kernel<BV, KS, T, TG, TB>".
cuda::KernelSpec naive_fwd_spec(const NaiveFwdConfig& c, DType qkv, DType gate, DType beta);
/// Grid (128 / BV, h_v, N), BV*k_split threads, no dynamic smem.
cuda::LaunchShape naive_fwd_shape(const NaiveFwdConfig& c, int h_v, long long num_sequences);
/// Empty when the kernel can run `p` with `c`, else the reason (K = V = 128 only, bf16/fp16 q/k/v, ...).
std::string naive_fwd_can_implement(const Problem& p, const NaiveFwdConfig& c);

}  // namespace qla::gdn
