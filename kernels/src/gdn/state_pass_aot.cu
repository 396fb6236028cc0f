// AOT instantiations of state_pass's default config (bf16 and fp16 q/k/v, fp32 beta); every other config is
// compiled by NVRTC on demand. Keep in step with state_pass_space()'s default point.
#include "gdn/state_pass.cuh"
#include "qla/cuda/aot_registry.hpp"

QLA_REGISTER_AOT_KERNEL("gdn/state_pass.cuh",
                        (qla::gdn::state_pass_kernel<64, 2, 8, false, __nv_bfloat16, float>));
QLA_REGISTER_AOT_KERNEL("gdn/state_pass.cuh", (qla::gdn::state_pass_kernel<64, 2, 8, true, __nv_bfloat16, float>));
QLA_REGISTER_AOT_KERNEL("gdn/state_pass.cuh", (qla::gdn::state_pass_kernel<64, 2, 8, false, __half, float>));
QLA_REGISTER_AOT_KERNEL("gdn/state_pass.cuh", (qla::gdn::state_pass_kernel<64, 2, 8, true, __half, float>));
