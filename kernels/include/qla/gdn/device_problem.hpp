// A forward problem's tensors on the device and the ForwardArgs that point at them: the one place
// that turns host tensors into a call. The tuner, the bench, `qla run`, the deploy example and the
// GPU tests all use it. Host only; synchronous uploads (plan time and tests, never the hot path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qla/cuda/check.hpp"
#include "qla/cuda/device_buffer.hpp"
#include "qla/dtype.hpp"
#include "qla/gdn/forward.hpp"
#include "qla/gdn/problem.hpp"

namespace qla::gdn {

/// Host bytes of one tensor (empty when absent).
struct HostBytes {
  const void* data = nullptr;
  std::size_t bytes = 0;
};

class DeviceProblem {
 public:
  Problem problem;
  cuda::DeviceBuffer q, k, v, g, beta, h0, cu_seqlens;
  cuda::DeviceBuffer o, ht;  ///< outputs: [B,T,h_v,V] in the qkv dtype; [N,h_v,K,V] fp32
  ForwardArgs args;          ///< contiguous views of the buffers above

  /// Uploads the inputs (h0 only when the problem has an initial state) and the problem's
  /// cu_seqlens; allocates o and ht.
  DeviceProblem(const Problem& p, HostBytes q_host, HostBytes k_host, HostBytes v_host,
                HostBytes g_host, HostBytes beta_host, HostBytes h0_host = {})
      : problem(p) {
    q = upload(q_host);
    k = upload(k_host);
    v = upload(v_host);
    g = upload(g_host);
    beta = upload(beta_host);
    if (p.initial_state) h0 = upload(h0_host);
    if (p.is_varlen()) {
      const std::vector<int> cu(p.cu_seqlens.begin(), p.cu_seqlens.end());
      cu_seqlens = cuda::DeviceBuffer::from_host(cu);
    }
    o = cuda::DeviceBuffer(o_elements() * dtype_size(p.qkv_dtype));
    ht = cuda::DeviceBuffer(ht_elements() * sizeof(float));
    args.set_sequences(p, cu_seqlens.as<const int>());
    args.q = contiguous_tensor(q.get(), p, p.h_qk, p.k_dim);
    args.k = contiguous_tensor(k.get(), p, p.h_qk, p.k_dim);
    args.v = contiguous_tensor(v.get(), p, p.h_v, p.v_dim);
    args.g = contiguous_tensor(g.get(), p, p.h_v, 1);
    args.beta = contiguous_tensor(beta.get(), p, p.h_v, 1);
    args.o = contiguous_tensor(o.get(), p, p.h_v, p.v_dim);
    args.h0 = p.initial_state ? h0.as<const float>() : nullptr;
    args.ht = p.final_state ? ht.as<float>() : nullptr;
  }

  /// From any tensor set with members q, k, v, g, beta (data(), nbytes()) and an optional h0
  /// (qla::gdn::ProblemTensors).
  template <class Tensors>
  static DeviceProblem from(const Problem& p, const Tensors& t) {
    return DeviceProblem(p, bytes_of(t.q), bytes_of(t.k), bytes_of(t.v), bytes_of(t.g),
                         bytes_of(t.beta), t.h0 ? bytes_of(*t.h0) : HostBytes{});
  }

  std::size_t o_elements() const {
    return static_cast<std::size_t>(problem.total_tokens()) * problem.h_v * problem.v_dim;
  }
  std::size_t ht_elements() const {
    return static_cast<std::size_t>(problem.num_sequences()) * problem.h_v * problem.k_dim *
           problem.v_dim;
  }
  /// Fills o and ht with 0xff bytes (NaN in every float type), so anything a call skips shows.
  void poison_outputs() const {
    QLA_CUDA_CHECK(cudaMemset(o.get(), 0xff, o.bytes()));
    QLA_CUDA_CHECK(cudaMemset(ht.get(), 0xff, ht.bytes()));
  }

 private:
  template <class T>
  static HostBytes bytes_of(const T& t) {
    return {t.data(), t.nbytes()};
  }
  static cuda::DeviceBuffer upload(HostBytes h) {
    cuda::DeviceBuffer b(h.bytes);
    if (h.bytes > 0) QLA_CUDA_CHECK(cudaMemcpy(b.get(), h.data, h.bytes, cudaMemcpyHostToDevice));
    return b;
  }
};

}  // namespace qla::gdn
