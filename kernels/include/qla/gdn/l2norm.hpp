// l2norm of q/k per head vector (FLA's use_qk_l2norm_in_kernel): host side. Device code gdn/l2norm.cuh.
#pragma once

#include <string>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/gdn/l2norm_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// Compile-time config: warps (= vectors) per CTA. Label e.g. "w4".
struct L2NormConfig {
  int warps = 4;  ///< 4 or 8
  Point to_point() const { return {warps}; }
  static L2NormConfig from_point(const Point& p) { return {p.at(0)}; }
};

/// Space "gdn.l2norm".
const SpaceDecl& l2norm_space();
/// "qla::gdn::l2norm_kernel<W, T>" from "gdn/l2norm.cuh"; T bf16 or fp16.
cuda::KernelSpec l2norm_spec(const L2NormConfig& c, DType dtype);
/// ceil(rows*heads / warps) CTAs of warps*32 threads.
cuda::LaunchShape l2norm_shape(const L2NormConfig& c, long long rows, int heads);
/// Empty, or why not (head dim 128, dtype).
std::string l2norm_can_implement(const Problem& p, const L2NormConfig& c);

}  // namespace qla::gdn
