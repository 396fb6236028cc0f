// Ahead-of-time instantiations of the unfused baseline pipeline: the space is small (12 points), so every
// config is compiled in, for bf16 and fp16 q/k/v and f32/bf16 g and beta. unfused_forward launches these.
#include "gdn/unfused_cumsum.cuh"
#include "gdn/unfused_h.cuh"
#include "gdn/unfused_kkt_solve.cuh"
#include "gdn/unfused_o.cuh"
#include "gdn/unfused_wu.cuh"
#include "qla/cuda/aot_registry.hpp"

QLA_REGISTER_AOT_KERNEL("gdn/unfused_cumsum.cuh", (qla::gdn::unfused_cumsum_kernel<float, float>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_cumsum.cuh", (qla::gdn::unfused_cumsum_kernel<float, __nv_bfloat16>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_cumsum.cuh", (qla::gdn::unfused_cumsum_kernel<__nv_bfloat16, float>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_cumsum.cuh", (qla::gdn::unfused_cumsum_kernel<__nv_bfloat16, __nv_bfloat16>));

QLA_REGISTER_AOT_KERNEL("gdn/unfused_kkt_solve.cuh", (qla::gdn::unfused_kkt_solve_kernel<__nv_bfloat16>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_kkt_solve.cuh", (qla::gdn::unfused_kkt_solve_kernel<__half>));

QLA_REGISTER_AOT_KERNEL("gdn/unfused_wu.cuh", (qla::gdn::unfused_wu_kernel<__nv_bfloat16>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_wu.cuh", (qla::gdn::unfused_wu_kernel<__half>));

QLA_REGISTER_AOT_KERNEL("gdn/unfused_h.cuh", (qla::gdn::unfused_h_kernel<__nv_bfloat16, 32, 4>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_h.cuh", (qla::gdn::unfused_h_kernel<__nv_bfloat16, 32, 8>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_h.cuh", (qla::gdn::unfused_h_kernel<__nv_bfloat16, 64, 4>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_h.cuh", (qla::gdn::unfused_h_kernel<__nv_bfloat16, 64, 8>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_h.cuh", (qla::gdn::unfused_h_kernel<__half, 32, 4>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_h.cuh", (qla::gdn::unfused_h_kernel<__half, 32, 8>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_h.cuh", (qla::gdn::unfused_h_kernel<__half, 64, 4>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_h.cuh", (qla::gdn::unfused_h_kernel<__half, 64, 8>));

QLA_REGISTER_AOT_KERNEL("gdn/unfused_o.cuh", (qla::gdn::unfused_o_kernel<__nv_bfloat16, 32>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_o.cuh", (qla::gdn::unfused_o_kernel<__nv_bfloat16, 64>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_o.cuh", (qla::gdn::unfused_o_kernel<__nv_bfloat16, 128>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_o.cuh", (qla::gdn::unfused_o_kernel<__half, 32>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_o.cuh", (qla::gdn::unfused_o_kernel<__half, 64>));
QLA_REGISTER_AOT_KERNEL("gdn/unfused_o.cuh", (qla::gdn::unfused_o_kernel<__half, 128>));
