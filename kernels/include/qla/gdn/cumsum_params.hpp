// Params of chunk_local_cumsum_kernel. Builtin types only (host, nvcc and NVRTC).
#pragma once

#include "qla/gdn/tensor_views.hpp"

namespace qla::gdn {

/// One launch: grid (seq.num_chunks work-list entries, ceil(heads / 32)), 128 threads.
/// g_in [B,T,heads] (fp32 or bf16), g_out [B,T,heads] fp32; seq.chunk_index is for the kernel's
/// chunk size C.
struct ChunkCumsumParams {
  TokenTensor g_in;
  TokenTensor g_out;
  SequenceView seq;
  int heads;
};

}  // namespace qla::gdn
