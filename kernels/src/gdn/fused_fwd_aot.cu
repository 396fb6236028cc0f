// AOT instantiations of fused_fwd (bf16 and fp16 q/k/v, fp32 beta): the space's default point, and the points the
// untuned op runs on sm_90a (untuned_fused_point: the default with the §2.3 BV rule and the register split
// kUntunedRegSplit), so an untuned plan launches without NVRTC on the architecture the library is built for.
// Every other config is compiled by NVRTC on demand. Keep in step with fused_fwd_space() and plan.hpp.
#include "gdn/fused_fwd.cuh"
#include "gdn/fused_fwd_ws.cuh"
#include "qla/cuda/aot_registry.hpp"

QLA_REGISTER_AOT_KERNEL("gdn/fused_fwd.cuh",
                        (qla::gdn::fused_fwd_kernel<64, 64, 2, 8, false, __nv_bfloat16, float>));
QLA_REGISTER_AOT_KERNEL("gdn/fused_fwd.cuh", (qla::gdn::fused_fwd_kernel<64, 64, 2, 8, false, __half, float>));

#define QLA_FUSED_WS_UNTUNED(BV, T) \
  QLA_REGISTER_AOT_KERNEL("gdn/fused_fwd_ws.cuh", (qla::gdn::fused_fwd_ws_kernel<64, BV, 2, 8, 40, T, float>))
QLA_FUSED_WS_UNTUNED(32, __nv_bfloat16);
QLA_FUSED_WS_UNTUNED(64, __nv_bfloat16);
QLA_FUSED_WS_UNTUNED(128, __nv_bfloat16);
QLA_FUSED_WS_UNTUNED(32, __half);
QLA_FUSED_WS_UNTUNED(64, __half);
QLA_FUSED_WS_UNTUNED(128, __half);
