// The GDN forward on device pointers: qla::gdn::forward(args, plan, workspace, stream).
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "qla/gdn/plan.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/gdn/tensor_views.hpp"

namespace qla::gdn {

/// Outcome of a forward call, as a value (the tuner stores it).
struct Status {
  enum class Code { kOk, kNotImplemented, kInvalidArgument, kLaunchError };
  Code code = Code::kOk;
  std::string message;  ///< empty when ok; else one line naming what is wrong

  bool ok() const { return code == Code::kOk; }
  static Status success() { return {}; }
  static Status not_implemented(std::string why) { return {Code::kNotImplemented, std::move(why)}; }
  static Status invalid_argument(std::string why) {
    return {Code::kInvalidArgument, std::move(why)};
  }
  static Status launch_error(std::string why) { return {Code::kLaunchError, std::move(why)}; }
};
/// "ok", "not_implemented", "invalid_argument", "launch_error".
const char* status_code_name(Status::Code c);

/// One forward call. Tensors token-major with element strides (tensor_views.hpp); the last dim
/// contiguous. q, k [B,T,h_qk,K]; v, o [B,T,h_v,V] in problem.qkv_dtype; g [B,T,h_v] raw log decay
/// (problem.gate_dtype); beta [B,T,h_v] (problem.beta_dtype); h0, ht fp32 contiguous [N,h_v,K,V].
/// Every pointer 16-byte aligned.
struct ForwardArgs {
  Problem problem;  ///< must equal the plan's problem (shapes, dtypes, flags, cu_seqlens)
  TokenTensor q{}, k{}, v{}, g{}, beta{}, o{};
  const float* h0 = nullptr;  ///< required iff problem.initial_state
  float* ht = nullptr;        ///< required iff problem.final_state
};

/// Contiguous strides for a [B, T, heads, dim] tensor at `data`.
TokenTensor contiguous_tensor(void* data, const Problem& p, int heads, int dim);

/// Enqueues the forward on `stream`. No host synchronisation, no allocation: CUDA-graph capturable.
/// Arguments are checked before any launch (invalid_argument, nothing launched).
Status forward(const ForwardArgs& args, const Plan& plan, void* workspace, cudaStream_t stream);

}  // namespace qla::gdn
