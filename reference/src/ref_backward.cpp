// Exact gradients by token-level backpropagation through time. States are
// checkpointed at every 64-token boundary and recomputed inside the chunk on the way back, so
// memory is O(T/64 + 64) states per task.
#include <algorithm>
#include <cmath>

#include "qla/error.hpp"
#include "qla/ref/gdn_reference.hpp"
#include "ref_common.hpp"

namespace qla::ref {

using detail::RowMatrix;

namespace {

constexpr int kCheckpointTokens = 64;

using RowVector = Eigen::RowVectorXd;
using ConstRowVectorMap = Eigen::Map<const RowVector>;
using RowVectorMap = Eigen::Map<RowVector>;

// dx = (dy - (dy . y) y) * rstd per vector: the backward of y = x * rstd(x) (float64).
void l2norm_backward(std::vector<double>& dy, const std::vector<double>& y,
                     const std::vector<double>& rstd, int dim) {
  for (std::size_t i = 0; i < rstd.size(); ++i) {
    detail::VectorMap d(dy.data() + i * dim, dim);
    const detail::ConstVectorMap yi(y.data() + i * dim, dim);
    d = (d - d.dot(yi) * yi) * rstd[i];
  }
}

}  // namespace

Gradients backward(const ForwardInputs& in, const std::vector<double>& d_o,
                   const std::vector<double>& dht) {
  detail::check_forward_inputs(in);
  const gdn::Problem& p = in.problem;
  const int kd = p.k_dim;
  const int vd = p.v_dim;
  const auto rows = static_cast<std::size_t>(p.total_tokens());
  const std::size_t state_size = static_cast<std::size_t>(kd) * vd;
  const std::size_t states = static_cast<std::size_t>(p.num_sequences()) * p.h_v;
  detail::check_size(d_o, rows * p.h_v * vd, "d_o");
  if (!dht.empty()) detail::check_size(dht, states * state_size, "dht");

  const detail::QkView qk = detail::make_qk_view(in);
  const double scale = p.effective_scale();

  // dq, dk per value head first; summed over each GVA group afterwards in a fixed order
  // (deterministic).
  std::vector<double> dq_v(rows * p.h_v * kd, 0.0), dk_v(rows * p.h_v * kd, 0.0);
  Gradients grad;
  grad.dv.assign(rows * p.h_v * vd, 0.0);
  grad.dg.assign(rows * p.h_v, 0.0);
  grad.dbeta.assign(rows * p.h_v, 0.0);
  grad.dh0.assign(states * state_size, 0.0);

  detail::parallel_for(states, [&](std::size_t task_index) {
    const detail::HeadTask task = detail::head_task(p, task_index);
    const int h = task.head;
    const int hq = task.qk_head;
    const std::int64_t chunks = (task.length + kCheckpointTokens - 1) / kCheckpointTokens;

    // Forward pass: keep only the state at the start of every 64-token chunk.
    std::vector<RowMatrix> checkpoints(static_cast<std::size_t>(chunks));
    RowMatrix S = RowMatrix::Zero(kd, vd);
    if (p.initial_state)
      S = detail::ConstRowMatrixMap(in.h0.data() + task_index * state_size, kd, vd);
    for (std::int64_t c = 0; c < chunks; ++c) {
      checkpoints[c] = S;
      const std::int64_t len =
          std::min<std::int64_t>(kCheckpointTokens, task.length - c * kCheckpointTokens);
      detail::recurrent_span(in, qk, task.begin + c * kCheckpointTokens, len, h, S, nullptr);
    }

    RowMatrix dS = RowMatrix::Zero(kd, vd);
    if (!dht.empty()) dS = detail::ConstRowMatrixMap(dht.data() + task_index * state_size, kd, vd);

    // Scratch reused across chunks and tokens.
    std::vector<RowMatrix> chunk_states(kCheckpointTokens + 1, RowMatrix(kd, vd));
    RowMatrix decayed(kd, vd);
    detail::RecurrentScratch step;
    RowVector pred(vd), resid(vd), u(vd), du(vd), dp(vd);
    Eigen::VectorXd dk(kd);

    for (std::int64_t c = chunks - 1; c >= 0; --c) {
      const std::int64_t first = task.begin + c * kCheckpointTokens;
      const int len = static_cast<int>(
          std::min<std::int64_t>(kCheckpointTokens, task.length - c * kCheckpointTokens));
      chunk_states[0] = checkpoints[c];
      for (int i = 0; i < len; ++i) {
        chunk_states[i + 1] = chunk_states[i];
        detail::recurrent_span(in, qk, first + i, 1, h, chunk_states[i + 1], nullptr, &step);
      }
      for (int i = len - 1; i >= 0; --i) {
        const std::int64_t r = first + i;
        const RowMatrix& s_prev = chunk_states[i];
        const RowMatrix& s_t = chunk_states[i + 1];
        const detail::ConstVectorMap q(qk.q->data() + (r * p.h_qk + hq) * kd, kd);
        const detail::ConstVectorMap k(qk.k->data() + (r * p.h_qk + hq) * kd, kd);
        const ConstRowVectorMap v(in.v.data() + (r * p.h_v + h) * vd, vd);
        const ConstRowVectorMap d_out(d_o.data() + (r * p.h_v + h) * vd, vd);
        const double decay = std::exp(in.g[r * p.h_v + h]);
        const double beta = in.beta[r * p.h_v + h];

        // o_t = scale S_t^T q_t.
        dS.noalias() += scale * q * d_out;
        detail::VectorMap(dq_v.data() + (r * p.h_v + h) * kd, kd).noalias() =
            scale * (s_t * d_out.transpose());
        // S_t = S~ + k u^T, S~ = e^g S_{t-1}, u = beta (v - S~^T k).
        decayed = decay * s_prev;
        pred.noalias() = k.transpose() * decayed;
        resid = v - pred;
        u = beta * resid;
        du.noalias() = k.transpose() * dS;
        dk.noalias() = dS * u.transpose();
        grad.dbeta[r * p.h_v + h] = du.dot(resid);
        RowVectorMap(grad.dv.data() + (r * p.h_v + h) * vd, vd) = beta * du;
        dp = -beta * du;
        dS.noalias() += k * dp;  // dS~ = dS + k dp^T
        dk.noalias() += decayed * dp.transpose();
        detail::VectorMap(dk_v.data() + (r * p.h_v + h) * kd, kd) = dk;
        grad.dg[r * p.h_v + h] = dS.cwiseProduct(decayed).sum();
        dS *= decay;  // now dL/dS_{t-1}
      }
    }
    detail::RowMatrixMap(grad.dh0.data() + task_index * state_size, kd, vd) = dS;
  });

  // GVA: sum the value heads of each group, in head order.
  const int group = p.group_size();
  grad.dq.assign(rows * p.h_qk * kd, 0.0);
  grad.dk.assign(rows * p.h_qk * kd, 0.0);
  for (std::size_t r = 0; r < rows; ++r) {
    for (int h = 0; h < p.h_v; ++h) {
      const std::size_t src = (r * p.h_v + h) * kd;
      const std::size_t dst = (r * p.h_qk + h / group) * kd;
      for (int i = 0; i < kd; ++i) {
        grad.dq[dst + i] += dq_v[src + i];
        grad.dk[dst + i] += dk_v[src + i];
      }
    }
  }
  if (p.l2norm_qk) {
    l2norm_backward(grad.dq, qk.q_norm, qk.q_rstd, kd);
    l2norm_backward(grad.dk, qk.k_norm, qk.k_rstd, kd);
  }
  return grad;
}

}  // namespace qla::ref
