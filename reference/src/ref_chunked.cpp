// The chunked form with FlashQLA's gate-free A_r and the gated mask A_g, written
// independently of the recurrence so that the two check each other.
#include <algorithm>
#include <cmath>

#include "qla/error.hpp"
#include "qla/ref/gdn_reference.hpp"
#include "ref_common.hpp"

namespace qla::ref {

using detail::RowMatrix;
using detail::Vector;

ForwardOutputs forward_chunked(const ForwardInputs& in, int chunk) {
  detail::check_forward_inputs(in);
  QLA_REQUIRE(chunk >= 1, "reference: chunk size must be >= 1, got " << chunk);
  const gdn::Problem& p = in.problem;
  const detail::QkView qk = detail::make_qk_view(in);
  const int kd = p.k_dim;
  const int vd = p.v_dim;
  const int c = chunk;
  const double scale = p.effective_scale();
  const std::size_t state_size = static_cast<std::size_t>(kd) * vd;
  ForwardOutputs out;
  out.o.assign(static_cast<std::size_t>(p.total_tokens()) * p.h_v * vd, 0.0);
  out.ht.assign(static_cast<std::size_t>(p.num_sequences()) * p.h_v * state_size, 0.0);

  detail::parallel_for(
      static_cast<std::size_t>(p.num_sequences()) * p.h_v, [&](std::size_t task_index) {
        const detail::HeadTask task = detail::head_task(p, task_index);
        const int h = task.head;
        RowMatrix S = RowMatrix::Zero(kd, vd);
        if (p.initial_state)
          S = detail::ConstRowMatrixMap(in.h0.data() + task_index * state_size, kd, vd);

        RowMatrix Q(c, kd), K(c, kd), V(c, vd);
        Vector beta(c), g(c);
        for (std::int64_t c0 = 0; c0 < task.length; c0 += c) {
          const int valid = static_cast<int>(std::min<std::int64_t>(c, task.length - c0));
          // Load the chunk; padded rows: q, k, v, beta = 0, g = cumsum of the last valid
          // token.
          Q.setZero();
          K.setZero();
          V.setZero();
          beta.setZero();
          double cum = 0.0;
          for (int s = 0; s < c; ++s) {
            if (s < valid) {
              const std::int64_t r = task.begin + c0 + s;
              Q.row(s) = detail::ConstVectorMap(qk.q->data() + (r * p.h_qk + task.qk_head) * kd, kd)
                             .transpose();
              K.row(s) = detail::ConstVectorMap(qk.k->data() + (r * p.h_qk + task.qk_head) * kd, kd)
                             .transpose();
              V.row(s) = detail::ConstVectorMap(in.v.data() + (r * p.h_v + h) * vd, vd).transpose();
              beta(s) = in.beta[r * p.h_v + h];
              cum += in.g[r * p.h_v + h];
            }
            g(s) = cum;  // chunk-local inclusive cumsum
          }
          const double g_last = g(c - 1);

          // A_r = (I + StrictLower(diag(beta) K K^T))^-1, gate-free.
          const RowMatrix kkt = K * K.transpose();
          RowMatrix unit_lower = RowMatrix::Identity(c, c);
          for (int s = 0; s < c; ++s)
            for (int t = 0; t < s; ++t) unit_lower(s, t) = beta(s) * kkt(s, t);
          const RowMatrix a_r =
              unit_lower.triangularView<Eigen::UnitLower>().solve(RowMatrix::Identity(c, c));

          // G[s,t] = e^{g_s - g_t} (s >= t); A_g = G ⊙ A_r ⊙ beta_col; P_g = scale G ⊙ Q K^T.
          RowMatrix gate = RowMatrix::Zero(c, c);
          for (int s = 0; s < c; ++s)
            for (int t = 0; t <= s; ++t) gate(s, t) = std::exp(g(s) - g(t));
          RowMatrix a_g = gate.cwiseProduct(a_r);
          for (int t = 0; t < c; ++t) a_g.col(t) *= beta(t);
          const RowMatrix p_g = scale * gate.cwiseProduct(Q * K.transpose());

          // U = K S; W = V - e^g ⊙ U; V_d = A_g W; O = scale e^g ⊙ (Q S) + P_g V_d.
          const Vector e_g = g.array().exp();
          const RowMatrix U = K * S;
          const RowMatrix W = V - e_g.asDiagonal() * U;
          const RowMatrix v_d = a_g * W;
          const RowMatrix O = scale * (e_g.asDiagonal() * (Q * S)) + p_g * v_d;
          for (int s = 0; s < valid; ++s) {
            const std::int64_t r = task.begin + c0 + s;
            detail::VectorMap(out.o.data() + (r * p.h_v + h) * vd, vd) = O.row(s).transpose();
          }

          // S <- e^{g_L} S + K^T (e^{g_L - g} ⊙ V_d), the decay forced to 0 on padded rows.
          Vector to_end = (g_last - g.array()).exp();
          for (int s = valid; s < c; ++s) to_end(s) = 0.0;
          S = std::exp(g_last) * S + K.transpose() * (to_end.asDiagonal() * v_d);
        }
        detail::RowMatrixMap(out.ht.data() + task_index * state_size, kd, vd) = S;
      });
  return out;
}

}  // namespace qla::ref
