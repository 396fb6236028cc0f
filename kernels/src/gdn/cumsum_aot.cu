// AOT instantiations of chunk_local_cumsum for every chunk size (they are tiny), both directions, fp32/bf16 g.
#include "gdn/cumsum.cuh"
#include "qla/cuda/aot_registry.hpp"

namespace qla::gdn {

#define QLA_CUMSUM_AOT(C, R, TG)                                              \
  template __global__ void chunk_local_cumsum_kernel<C, R, TG>(ChunkCumsumParams); \
  QLA_REGISTER_AOT_KERNEL("gdn/cumsum.cuh", (qla::gdn::chunk_local_cumsum_kernel<C, R, TG>))

QLA_CUMSUM_AOT(64, false, float);
QLA_CUMSUM_AOT(64, true, float);
QLA_CUMSUM_AOT(64, false, __nv_bfloat16);
QLA_CUMSUM_AOT(64, true, __nv_bfloat16);
QLA_CUMSUM_AOT(32, false, float);
QLA_CUMSUM_AOT(128, false, float);

}  // namespace qla::gdn
