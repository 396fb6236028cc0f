// CP reference: split, warm-up, transitions, corrected initial states, CP forward.
#include <algorithm>
#include <cmath>

#include "qla/error.hpp"
#include "qla/ref/cp_reference.hpp"
#include "ref_common.hpp"

namespace qla::ref {

using detail::RowMatrix;

int cp_piece_chunks(int h_v, std::int64_t total_chunks, int num_sms) {
  QLA_REQUIRE(num_sms >= 1, "CP: num_sms must be >= 1, got " << num_sms);
  constexpr int kMinPieceChunks = 4;  // so the 2-stage pipelines of the kernels have work
  const double x = 3.0 * std::sqrt(double(h_v) * double(total_chunks) / double(num_sms));
  if (!(x > 0.0)) return kMinPieceChunks;
  // nearbyint rounds half to even, as FlashQLA's Python round() does.
  const double exponent = std::nearbyint(std::log2(x));
  const double length = std::ldexp(1.0, static_cast<int>(exponent));
  return std::max(kMinPieceChunks, static_cast<int>(std::min(length, 1.0e9)));
}

std::int64_t total_chunks(const gdn::Problem& problem, int chunk) {
  QLA_REQUIRE(chunk >= 1, "CP: chunk size must be >= 1, got " << chunk);
  std::int64_t total = 0;
  for (std::int64_t n = 0; n < problem.num_sequences(); ++n)
    total += (problem.seq_length(n) + chunk - 1) / chunk;
  return total;
}

std::vector<CpPiece> cp_split(const gdn::Problem& problem, int piece_chunks, int chunk) {
  QLA_REQUIRE(chunk >= 1, "CP: chunk size must be >= 1, got " << chunk);
  QLA_REQUIRE(piece_chunks >= 1, "CP: piece length must be >= 1 chunk, got " << piece_chunks);
  const std::int64_t piece_tokens = std::int64_t(piece_chunks) * chunk;
  std::vector<CpPiece> pieces;
  for (std::int64_t n = 0; n < problem.num_sequences(); ++n) {
    const std::int64_t begin = problem.seq_begin(n);
    const std::int64_t length = problem.seq_length(n);
    const std::int64_t chunks = (length + chunk - 1) / chunk;
    const std::int64_t count =
        chunks > piece_chunks ? (chunks + piece_chunks - 1) / piece_chunks : 1;
    for (std::int64_t j = 0; j < count; ++j) {
      CpPiece piece;
      piece.begin = begin + j * piece_tokens;
      piece.length = j + 1 < count ? piece_tokens : length - j * piece_tokens;
      piece.raw_seq = n;
      piece.first = j == 0;
      piece.last = j + 1 == count;
      pieces.push_back(piece);
    }
  }
  return pieces;
}

CpPlan cp_prepare(const ForwardInputs& in, const CpOptions& options) {
  detail::check_forward_inputs(in);
  const gdn::Problem& p = in.problem;
  QLA_REQUIRE(options.chunk >= 1, "CP: chunk size must be >= 1, got " << options.chunk);
  QLA_REQUIRE(options.piece_chunks >= 0,
              "CP: piece length must be >= 0 chunks (0 = rule), got " << options.piece_chunks);
  CpPlan plan;
  plan.chunk = options.chunk;
  plan.threshold = options.threshold;
  plan.piece_chunks = options.piece_chunks > 0
                          ? options.piece_chunks
                          : cp_piece_chunks(p.h_v, total_chunks(p, options.chunk), options.num_sms);
  plan.pieces = cp_split(p, plan.piece_chunks, plan.chunk);

  const int kd = p.k_dim;
  const int vd = p.v_dim;
  const int c = plan.chunk;
  const std::size_t heads = static_cast<std::size_t>(p.h_v);
  const std::size_t tasks = plan.pieces.size() * heads;
  const std::size_t state_size = static_cast<std::size_t>(kd) * vd;
  const std::size_t transition_size = static_cast<std::size_t>(kd) * kd;
  plan.warmup_chunks.assign(tasks, 0);
  plan.fallback.assign(tasks, 0);
  plan.warmup_states.assign(tasks * state_size, 0.0);
  plan.transition.assign(tasks * transition_size, 0.0);
  plan.corrected_h0.assign(tasks * state_size, 0.0);
  const detail::QkView qk = detail::make_qk_view(in);

  // Warm-up counts, states and transitions per (piece, head).
  detail::parallel_for(tasks, [&](std::size_t i) {
    const CpPiece& piece = plan.pieces[i / heads];
    const int h = static_cast<int>(i % heads);
    if (piece.last) return;  // its final state feeds no one: n = 0
    const std::int64_t chunks = (piece.length + c - 1) / c;
    std::int64_t n = chunks;
    bool fallback = true;
    double decay = 0.0;
    for (std::int64_t walked = 1; walked <= chunks; ++walked) {
      const std::int64_t first = piece.begin + (chunks - walked) * c;
      const std::int64_t end = std::min(first + c, piece.begin + piece.length);
      for (std::int64_t r = first; r < end; ++r) decay += in.g[r * p.h_v + h];
      if (decay < plan.threshold) {
        n = walked;
        fallback = false;
        break;
      }
    }
    plan.warmup_chunks[i] = static_cast<int>(n);
    plan.fallback[i] = fallback ? 1 : 0;

    const std::int64_t window_begin = piece.begin + (chunks - n) * c;
    RowMatrix R = RowMatrix::Zero(kd, vd);
    detail::recurrent_span(in, qk, window_begin, piece.begin + piece.length - window_begin, h, R,
                           nullptr);
    detail::RowMatrixMap(plan.warmup_states.data() + i * state_size, kd, vd) = R;

    if (fallback) {
      // M <- e^{g_t} (I - beta_t k_t k_t^T) M, token by token (the definition, independent of
      // the per-chunk closed form).
      RowMatrix M = RowMatrix::Identity(kd, kd);
      Eigen::RowVectorXd kt_m(kd);
      const int hq = h / p.group_size();
      for (std::int64_t r = piece.begin; r < piece.begin + piece.length; ++r) {
        const detail::ConstVectorMap k(qk.k->data() + (r * p.h_qk + hq) * kd, kd);
        const double beta = in.beta[r * p.h_v + h];
        kt_m.noalias() = k.transpose() * M;
        M.noalias() -= beta * k * kt_m;
        M *= std::exp(in.g[r * p.h_v + h]);
      }
      detail::RowMatrixMap(plan.transition.data() + i * transition_size, kd, kd) = M;
    }
  });

  // Corrected initial states: the serial chain over the pieces of each raw sequence.
  std::vector<std::size_t> first_piece(static_cast<std::size_t>(p.num_sequences()) + 1,
                                       plan.pieces.size());
  for (std::size_t j = plan.pieces.size(); j-- > 0;) first_piece[plan.pieces[j].raw_seq] = j;
  detail::parallel_for(static_cast<std::size_t>(p.num_sequences()) * heads, [&](std::size_t i) {
    const std::size_t n = i / heads;
    const std::size_t h = i % heads;
    RowMatrix state = RowMatrix::Zero(kd, vd);
    if (p.initial_state) state = detail::ConstRowMatrixMap(in.h0.data() + i * state_size, kd, vd);
    for (std::size_t j = first_piece[n];
         j < plan.pieces.size() && plan.pieces[j].raw_seq == std::int64_t(n); ++j) {
      const std::size_t t = j * heads + h;
      detail::RowMatrixMap(plan.corrected_h0.data() + t * state_size, kd, vd) = state;
      const detail::ConstRowMatrixMap R(plan.warmup_states.data() + t * state_size, kd, vd);
      if (plan.fallback[t]) {
        const detail::ConstRowMatrixMap M(plan.transition.data() + t * transition_size, kd, kd);
        state = (M * state + R).eval();
      } else {
        state = R;
      }
    }
  });
  return plan;
}

ForwardOutputs forward_cp(const ForwardInputs& in, const CpPlan& plan) {
  detail::check_forward_inputs(in);
  const gdn::Problem& p = in.problem;
  const std::size_t state_size = static_cast<std::size_t>(p.k_dim) * p.v_dim;
  QLA_REQUIRE(
      !plan.pieces.empty() && plan.corrected_h0.size() == plan.pieces.size() * p.h_v * state_size,
      "CP: the plan does not belong to this problem (piece count or state size differ)");

  // The pieces are contiguous runs of the flat token index, so they form one packed varlen problem
  // whose initial states are the corrected ones.
  ForwardInputs pieces_in = in;
  gdn::Problem& sub = pieces_in.problem;
  sub.batch = 1;
  sub.tokens = p.total_tokens();
  sub.cu_seqlens.assign(1, 0);
  for (const CpPiece& piece : plan.pieces) {
    QLA_REQUIRE(piece.begin == sub.cu_seqlens.back(),
                "CP: the plan's pieces are not contiguous at row " << piece.begin);
    sub.cu_seqlens.push_back(piece.begin + piece.length);
  }
  sub.initial_state = true;
  pieces_in.h0 = plan.corrected_h0;
  ForwardOutputs piece_out = forward_recurrent(pieces_in);

  ForwardOutputs out;
  out.o = std::move(piece_out.o);
  out.ht.assign(static_cast<std::size_t>(p.num_sequences()) * p.h_v * state_size, 0.0);
  for (std::size_t j = 0; j < plan.pieces.size(); ++j) {
    if (!plan.pieces[j].last) continue;
    const std::size_t n = static_cast<std::size_t>(plan.pieces[j].raw_seq);
    std::copy_n(piece_out.ht.begin() + j * p.h_v * state_size, p.h_v * state_size,
                out.ht.begin() + n * p.h_v * state_size);
  }
  return out;
}

}  // namespace qla::ref
