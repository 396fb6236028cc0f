// Params of the naive recurrent forward kernel (baseline a). Builtin types only: shared by host
// code, nvcc and NVRTC (embedded with the device sources).
#pragma once

#include "qla/gdn/tensor_views.hpp"

namespace qla::gdn {

/// One launch of naive_fwd_kernel: every sequence, value head and V-slice of a problem.
/// Grid (V / BV, h_v, N); q, k [B,T,h_qk,128], v, o [B,T,h_v,128] in the kernel's element type; g,
/// beta [B,T,h_v] (raw per-token log decay, not a cumsum); h0, ht fp32 [N,h_v,128,128] (either may
/// be null).
struct NaiveFwdParams {
  TokenTensor q, k, v, g, beta, o;
  StateTensor h0, ht;
  SequenceView seq;  ///< only cu_seqlens, num_sequences, tokens_per_row, total_tokens are read
  int h_qk;
  int h_v;
  float scale;
};

}  // namespace qla::gdn
