// The exact token recurrence, one (sequence, value head) per task.
#include <cmath>

#include "qla/ref/gdn_reference.hpp"
#include "ref_common.hpp"

namespace qla::ref {
namespace detail {

void recurrent_span(const ForwardInputs& in, const QkView& qk, std::int64_t begin,
                    std::int64_t length, int head, RowMatrix& S, std::vector<double>* o,
                    RecurrentScratch* scratch) {
  const gdn::Problem& p = in.problem;
  const int kd = p.k_dim;
  const int vd = p.v_dim;
  const int hq = head / p.group_size();
  const double scale = p.effective_scale();
  // Scratch allocated once per span (or owned by the caller): the token loop allocates nothing.
  RecurrentScratch local;
  RecurrentScratch& work = scratch != nullptr ? *scratch : local;
  work.sk.resize(vd);
  work.sq.resize(vd);
  work.u.resize(vd);
  Eigen::RowVectorXd& sk = work.sk;
  Eigen::RowVectorXd& sq = work.sq;
  Eigen::RowVectorXd& u = work.u;
  for (std::int64_t r = begin; r < begin + length; ++r) {
    const double* k = qk.k->data() + (r * p.h_qk + hq) * kd;
    const double* q = qk.q->data() + (r * p.h_qk + hq) * kd;
    const Eigen::Map<const Eigen::RowVectorXd> v(in.v.data() + (r * p.h_v + head) * vd, vd);
    const double decay = std::exp(in.g[r * p.h_v + head]);
    const double beta = in.beta[r * p.h_v + head];
    // One read pass over S for both products: sk = S^T k, sq = S^T q (of the undecayed state).
    sk.setZero();
    sq.setZero();
    double kq = 0.0;
    for (int i = 0; i < kd; ++i) {
      sk.noalias() += k[i] * S.row(i);
      if (o != nullptr) sq.noalias() += q[i] * S.row(i);  // state-only callers skip the output
      kq += k[i] * q[i];
    }
    // u = beta (v - S~^T k) with S~ = e^g S; then S_t = S~ + k u^T in one write pass.
    u.noalias() = beta * (v - decay * sk);
    for (int i = 0; i < kd; ++i) S.row(i) = decay * S.row(i) + k[i] * u;
    // o_t = scale S_t^T q = scale (e^g S^T q + (k.q) u): exact algebra, saves a third pass over S.
    if (o != nullptr) {
      Eigen::Map<Eigen::RowVectorXd>(o->data() + (r * p.h_v + head) * vd, vd) =
          scale * (decay * sq + kq * u);
    }
  }
}

}  // namespace detail

ForwardOutputs forward_recurrent(const ForwardInputs& in) {
  detail::check_forward_inputs(in);
  const gdn::Problem& p = in.problem;
  const detail::QkView qk = detail::make_qk_view(in);
  const std::size_t state_size = static_cast<std::size_t>(p.k_dim) * p.v_dim;
  ForwardOutputs out;
  out.o.assign(static_cast<std::size_t>(p.total_tokens()) * p.h_v * p.v_dim,
               0.0);  // padding rows stay 0
  out.ht.assign(static_cast<std::size_t>(p.num_sequences()) * p.h_v * state_size, 0.0);
  detail::parallel_for(static_cast<std::size_t>(p.num_sequences()) * p.h_v, [&](std::size_t i) {
    const detail::HeadTask task = detail::head_task(p, i);
    detail::RowMatrix S = detail::RowMatrix::Zero(p.k_dim, p.v_dim);
    if (p.initial_state)
      S = detail::ConstRowMatrixMap(in.h0.data() + i * state_size, p.k_dim, p.v_dim);
    detail::recurrent_span(in, qk, task.begin, task.length, task.head, S, &out.o);
    detail::RowMatrixMap(out.ht.data() + i * state_size, p.k_dim, p.v_dim) = S;
  });
  return out;
}

}  // namespace qla::ref
