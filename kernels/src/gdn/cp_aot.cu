// AOT instantiations of the CP small kernels' defaults.
#include "gdn/cp_correct.cuh"
#include "gdn/cp_warmup.cuh"
#include "qla/cuda/aot_registry.hpp"

namespace qla::gdn {

template __global__ void cp_warmup_counts_kernel<0>(CpWarmupParams);
template __global__ void cp_correct_states_kernel<32>(CpCorrectParams);
QLA_REGISTER_AOT_KERNEL("gdn/cp_warmup.cuh", (qla::gdn::cp_warmup_counts_kernel<0>));
QLA_REGISTER_AOT_KERNEL("gdn/cp_correct.cuh", (qla::gdn::cp_correct_states_kernel<32>));

}  // namespace qla::gdn
