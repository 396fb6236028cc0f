// Private helpers shared by the reference's ref_*.cpp units: Eigen aliases, input checks, the q/k
// l2 normalisation and the (sequence, value head) thread fan-out. Not installed; not part of the
// API.
#pragma once

#include <Eigen/Dense>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "qla/ref/gdn_reference.hpp"

namespace qla::ref::detail {

/// States are [K, V] row-major, like the tensors they are read from and written to.
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXd;
using ConstVectorMap = Eigen::Map<const Vector>;
using VectorMap = Eigen::Map<Vector>;
using ConstRowMatrixMap = Eigen::Map<const RowMatrix>;
using RowMatrixMap = Eigen::Map<RowMatrix>;

/// Throws UserError naming `tensor` when `values.size() != expected`.
void check_size(const std::vector<double>& values, std::size_t expected, const char* tensor);

/// Validates the problem and the sizes of q, k, v, g, beta and h0 against it.
void check_forward_inputs(const ForwardInputs& in);

/// q and k as the recurrence sees them: l2-normalised per (token, qk head) when the problem asks
/// for it, else the inputs themselves. rstd = 1 / sqrt(sum x^2 + 1e-6) per (token, qk head) (empty
/// when not normalised).
struct QkView {
  const std::vector<double>* q = nullptr;
  const std::vector<double>* k = nullptr;
  std::vector<double> q_norm, k_norm, q_rstd, k_rstd;
};
QkView make_qk_view(const ForwardInputs& in);

/// Runs body(i) for i in [0, count) on up to hardware_concurrency threads. Each index must write
/// disjoint outputs, so the result does not depend on the schedule. The first exception thrown by a
/// body is rethrown.
void parallel_for(std::size_t count, const std::function<void(std::size_t)>& body);

/// Offsets into the flat token-major tensors for one (sequence, value head) task.
struct HeadTask {
  std::int64_t begin = 0;   ///< first flat token row of the sequence
  std::int64_t length = 0;  ///< tokens in the sequence (0 allowed)
  std::int64_t seq = 0;     ///< sequence index n
  int head = 0;             ///< value head h
  int qk_head = 0;          ///< h / (h_v / h_qk)
};
/// Task i of N * h_v, sequence-major.
HeadTask head_task(const gdn::Problem& p, std::size_t i);

/// Per-token work vectors of recurrent_span, reusable across calls so that callers stepping one
/// token at a time allocate nothing per token.
struct RecurrentScratch {
  Eigen::RowVectorXd sk, sq, u;
};

/// Advances the state S (K x V) of value head `head` through the flat token rows [begin, begin +
/// length) by the exact recurrence, reading q/k from `qk`. Writes the o rows of those
/// tokens when `o` is non-null. Used by forward_recurrent, the backward recompute and the CP
/// warm-up.
void recurrent_span(const ForwardInputs& in, const QkView& qk, std::int64_t begin,
                    std::int64_t length, int head, RowMatrix& S, std::vector<double>* o,
                    RecurrentScratch* scratch = nullptr);

}  // namespace qla::ref::detail
