#include "qla/gdn/work_list.hpp"

#include <algorithm>
#include <limits>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"

namespace qla::gdn {

WorkListCapacity work_list_capacity(long long rows, long long sequences, int chunk,
                                    int piece_chunks) {
  QLA_REQUIRE(rows >= 0 && sequences >= 0 && chunk > 0 && piece_chunks >= 0,
              "work_list_capacity: rows " << rows << ", sequences " << sequences << ", chunk "
                                          << chunk << ", piece_chunks " << piece_chunks);
  const long long chunks = (rows + chunk - 1) / chunk + sequences + 1;
  const long long pieces =
      piece_chunks > 0 ? (chunks + piece_chunks - 1) / piece_chunks + sequences : 0;
  constexpr long long kMax = std::numeric_limits<int>::max() / 2;  // chunk_index holds pairs
  QLA_REQUIRE(chunks <= kMax && pieces <= kMax, rows << " rows in " << sequences
                                                     << " sequences need more than " << kMax
                                                     << " chunk entries");
  return {static_cast<int>(chunks), static_cast<int>(pieces)};
}

WorkList build_work_list(const std::vector<int>& cu_in, int sequences, long long tokens_per_row,
                         long long rows, int chunk, int piece_chunks,
                         const WorkListCapacity& capacity) {
  const int n = sequences;
  const long long C = chunk, L = piece_chunks;
  auto given = [&](int i) -> long long {
    return cu_in.empty() ? i * tokens_per_row : static_cast<long long>(cu_in[i]);
  };
  QLA_REQUIRE(cu_in.empty() || static_cast<int>(cu_in.size()) == n + 1,
              "build_work_list: " << cu_in.size() << " offsets for " << n << " sequences");
  WorkList w;
  for (int i = 0; i <= n; ++i) {
    const long long x = given(i);
    if ((i == 0 && x != 0) || x > rows || (i < n && given(i + 1) < x)) w.error = 1;
  }
  auto offset = [&](int i) { return w.error ? rows : given(i); };
  for (int i = 0; i <= n; ++i) w.cu.push_back(static_cast<int>(offset(i)));
  int chunks = 0, pieces = 0;
  for (int i = 0; i < n; ++i) {
    const int nc = static_cast<int>((offset(i + 1) - offset(i) + C - 1) / C);
    w.chunk_offset.push_back(chunks);
    if (L > 0) w.raw_first_piece.push_back(pieces);
    chunks += nc;
    if (L > 0) pieces += nc > L ? static_cast<int>((nc + L - 1) / L) : 1;
  }
  w.chunk_offset.push_back(chunks);
  if (L > 0) w.raw_first_piece.push_back(pieces);
  QLA_REQUIRE(chunks < capacity.max_chunks && pieces <= capacity.max_pieces,
              "build_work_list: the capacity is too small");
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < w.chunk_offset[i + 1] - w.chunk_offset[i]; ++c) {
      w.chunk_index.insert(w.chunk_index.end(), {i, c});
      if (L > 0)
        w.piece_chunk_index.insert(
            w.piece_chunk_index.end(),
            {w.raw_first_piece[i] + static_cast<int>(c / L), static_cast<int>(c % L)});
    }
  for (int e = chunks; e < capacity.max_chunks; ++e) {
    w.chunk_index.insert(w.chunk_index.end(), {-1, e - chunks});
    if (L > 0) w.piece_chunk_index.insert(w.piece_chunk_index.end(), {-1, e - chunks});
  }
  if (L == 0) return w;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < w.raw_first_piece[i + 1] - w.raw_first_piece[i]; ++j) {
      const bool last = j == w.raw_first_piece[i + 1] - w.raw_first_piece[i] - 1;
      w.piece_cu.push_back(static_cast<int>(offset(i) + j * L * C));
      w.piece_chunk_offset.push_back(w.chunk_offset[i] + static_cast<int>(j * L));
      w.piece_is_last.push_back(last ? 1 : 0);
      w.ht_index.push_back(last && !w.error ? i : -1);
    }
  for (int q = pieces; q < capacity.max_pieces; ++q) {
    w.piece_cu.push_back(static_cast<int>(offset(n)));
    w.piece_chunk_offset.push_back(chunks);
    w.piece_is_last.push_back(1);
    w.ht_index.push_back(-1);
  }
  w.piece_cu.push_back(static_cast<int>(offset(n)));
  w.piece_chunk_offset.push_back(chunks);
  return w;
}

std::vector<cuda::KernelSpec> WorkListFamily::specs(const Config&) { return {work_list_spec()}; }

cuda::KernelSpec work_list_spec() {
  return {"gdn/work_list.cuh", "qla::gdn::build_work_list_kernel<0>",
          cuda::params_layout<WorkListParams>()};
}

cuda::LaunchShape work_list_shape() {
  cuda::LaunchShape s;
  s.block = {1024, 1, 1};
  return s;
}

namespace {
const bool kRegistered = cuda::register_family<WorkListFamily>();
}  // namespace

}  // namespace qla::gdn
