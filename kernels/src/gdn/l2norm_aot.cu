// AOT instantiations of l2norm's default config.
#include "gdn/l2norm.cuh"
#include "qla/cuda/aot_registry.hpp"

namespace qla::gdn {

template __global__ void l2norm_kernel<4, __nv_bfloat16>(L2NormParams);
template __global__ void l2norm_kernel<4, __half>(L2NormParams);
QLA_REGISTER_AOT_KERNEL("gdn/l2norm.cuh", (qla::gdn::l2norm_kernel<4, __nv_bfloat16>));
QLA_REGISTER_AOT_KERNEL("gdn/l2norm.cuh", (qla::gdn::l2norm_kernel<4, __half>));

}  // namespace qla::gdn
