// AOT instantiations of fused_fwd's default config (bf16 and fp16 q/k/v, fp32 beta); every other config is
// compiled by NVRTC on demand. Keep in step with fused_fwd_space()'s default point.
#include "gdn/fused_fwd.cuh"
#include "qla/cuda/aot_registry.hpp"

QLA_REGISTER_AOT_KERNEL("gdn/fused_fwd.cuh",
                        (qla::gdn::fused_fwd_kernel<64, 64, 2, 8, false, __nv_bfloat16, float>));
QLA_REGISTER_AOT_KERNEL("gdn/fused_fwd.cuh", (qla::gdn::fused_fwd_kernel<64, 64, 2, 8, false, __half, float>));
