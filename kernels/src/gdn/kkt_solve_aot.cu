// AOT instantiations of kkt_solve's default config (bf16 and fp16 q/k/v, fp32 beta); every other config is
// compiled by NVRTC on demand. Keep in step with kkt_solve_space()'s default point.
#include "gdn/kkt_solve.cuh"
#include "qla/cuda/aot_registry.hpp"

QLA_REGISTER_AOT_KERNEL("gdn/kkt_solve.cuh", (qla::gdn::kkt_solve_kernel<64, 16, 4, __nv_bfloat16, float>));
QLA_REGISTER_AOT_KERNEL("gdn/kkt_solve.cuh", (qla::gdn::kkt_solve_kernel<64, 16, 4, __half, float>));
