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

/// Where a forward call's work lists (the chunk lists, the CP split and the error word) come from.
enum class Lists {
  kBuild,     ///< built by the call's first launch from its cu_seqlens (the default)
  kPrepared,  ///< already in the workspace, from prepare_lists() with this plan and these sequences
};

/// One forward call on a plan (plan.hpp) of its class. Tensors token-major with element strides
/// (tensor_views.hpp); the last dim contiguous. q, k [B,T,h_qk,K]; v, o [B,T,h_v,V] in the plan's
/// qkv dtype; g [B,T,h_v] raw log decay (gate dtype); beta [B,T,h_v] (beta dtype); h0, ht fp32
/// contiguous [N,h_v,K,V]. Every pointer 16-byte aligned.
///
/// The sequences are the call's own: B·T rows (at most the plan's max_rows()) holding either B
/// sequences of T tokens (cu_seqlens null) or, with B = 1, the N sequences of a device int32
/// offset list cu_seqlens [N+1] (N at most the plan's max_sequences()). The chunk work lists and
/// the CP split are built from it on the device in the call's stream (or once, by prepare_lists()):
/// no host synchronisation, no allocation. A cu_seqlens that is not a valid offset list (cu[0] = 0,
/// non-decreasing, cu[N] ≤ B·T) cannot be seen before the kernels run: the call then writes nothing
/// to o (ht of every sequence becomes its h0, or zeros, with CP off) and records the error for
/// call_status().
struct ForwardArgs {
  long long batch = 1;              ///< B
  long long tokens = 0;             ///< T, tokens per batch row
  const int* cu_seqlens = nullptr;  ///< device [N+1] flat token offsets, or null (fixed length)
  int num_sequences = 0;            ///< N, with cu_seqlens
  TokenTensor q{}, k{}, v{}, g{}, beta{}, o{};
  const float* h0 = nullptr;    ///< required iff the plan's problem has an initial state
  float* ht = nullptr;          ///< required iff the plan's problem has a final state
  Lists lists = Lists::kBuild;  ///< kPrepared: the workspace holds them (prepare_lists)

  /// The sequences of `p` (B, T and, when varlen, N), with its cu_seqlens already on the device at
  /// `cu_device` (ignored for a fixed-length problem).
  void set_sequences(const Problem& p, const int* cu_device);
  /// N of the call.
  long long sequences() const { return cu_seqlens ? num_sequences : batch; }
};

/// Contiguous strides for a [B, T, heads, dim] tensor at `data`.
TokenTensor contiguous_tensor(void* data, long long tokens, int heads, int dim);
TokenTensor contiguous_tensor(void* data, const Problem& p, int heads, int dim);

/// Enqueues the forward on `stream`. No host synchronisation, no allocation: CUDA-graph capturable
/// (a captured call replays on whatever the captured pointers hold, cu_seqlens included). Arguments
/// are checked before any launch (invalid_argument, nothing launched).
Status forward(const ForwardArgs& args, const Plan& plan, void* workspace, cudaStream_t stream);

/// Enqueues only the build of the work lists that forward() would build first for `args`' sequences
/// (cu_seqlens, B, T, N), into `workspace`. forward() with `args.lists = Lists::kPrepared`, the
/// same plan and that workspace then skips that launch, for as long as the sequences stay the same:
/// the contents of cu_seqlens as well as B, T and N, which no call can check (the lists depend on
/// the plan too: its chunk size and CP piece length). Such are the GDN layers of one model step,
/// which share their cu_seqlens and run one after another on one workspace, or the replays of a
/// captured call; FlashQLA builds its CP context once outside its timed calls the same way. The
/// error word is reset here only: call_status() then reports an invalid offset list as
/// prepare_lists() saw it and the β‖k‖² bit of any call since. The arguments are checked as
/// forward() checks them, tensors included (invalid_argument, nothing launched): pass the first
/// call's.
Status prepare_lists(const ForwardArgs& args, const Plan& plan, void* workspace,
                     cudaStream_t stream);

/// After a call on `workspace` has finished: ok, or invalid_argument when its device cu_seqlens
/// was not a valid offset list (nothing was written to o), or when β‖k‖² > 2 at some token (the
/// outputs were written but are not reliable: the keys are far from unit norm, see
/// qla/gdn/call_error.hpp). Synchronous (reads one word of the workspace).
Status call_status(const Plan& plan, const void* workspace);

/// What call_status() says of an error word: empty for 0, else one sentence per bit set.
std::string call_error_text(int error_word);

}  // namespace qla::gdn
