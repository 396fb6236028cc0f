// AOT instantiations of the naive forward's default config (bv32.ks4) for every supported dtype combination.
#include "gdn/naive_fwd.cuh"
#include "qla/cuda/aot_registry.hpp"

namespace qla::gdn {

#define QLA_NAIVE_AOT(T, TG, TB)                                \
  template __global__ void naive_fwd_kernel<32, 4, T, TG, TB>(NaiveFwdParams); \
  QLA_REGISTER_AOT_KERNEL("gdn/naive_fwd.cuh", (qla::gdn::naive_fwd_kernel<32, 4, T, TG, TB>))

QLA_NAIVE_AOT(__nv_bfloat16, float, float);
QLA_NAIVE_AOT(__nv_bfloat16, __nv_bfloat16, __nv_bfloat16);
QLA_NAIVE_AOT(__nv_bfloat16, float, __nv_bfloat16);
QLA_NAIVE_AOT(__nv_bfloat16, __nv_bfloat16, float);
QLA_NAIVE_AOT(__half, float, float);
QLA_NAIVE_AOT(__half, __nv_bfloat16, __nv_bfloat16);
QLA_NAIVE_AOT(__half, float, __nv_bfloat16);
QLA_NAIVE_AOT(__half, __nv_bfloat16, float);

}  // namespace qla::gdn
