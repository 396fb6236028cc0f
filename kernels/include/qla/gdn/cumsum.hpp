// chunk_local_cumsum: host side. Device code kernels/device/gdn/cumsum.cuh (what it writes is documented there).
#pragma once

#include <string>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/gdn/cumsum_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// Compile-time config: the chunk size (must equal the consumer's). Label e.g. "c64".
struct CumsumConfig {
  int chunk = 64;  ///< C: 32, 64 or 128 tokens
  Point to_point() const { return {chunk}; }
  static CumsumConfig from_point(const Point& p) { return {p.at(0)}; }
};

/// Space "gdn.cumsum".
const SpaceDecl& cumsum_space();
/// "qla::gdn::chunk_local_cumsum_kernel<C, Reverse, TG>" from "gdn/cumsum.cuh"; gate fp32 or bf16.
cuda::KernelSpec cumsum_spec(const CumsumConfig& c, bool reverse, DType gate);
/// Grid (num_chunks + padding blocks, ceil(heads/32)), 128 threads. `padding_tokens` = T_total − cu_seqlens[N].
cuda::LaunchShape cumsum_shape(const CumsumConfig& c, int num_chunks, long long padding_tokens, int heads);
/// Empty, or why not (gate dtype).
std::string cumsum_can_implement(const Problem& p, const CumsumConfig& c);

}  // namespace qla::gdn
