// build_work_list_kernel: a call's sequence metadata (chunk work lists, the CP split) from its
// cu_seqlens, on the device. The contract is in qla/gdn/work_list_params.hpp; the host builds the
// same lists in qla::gdn::build_work_list (the tests compare the two).
//
// One CTA of 1024 threads: a validity check of cu_seqlens, a block-wide scan of chunks and pieces
// per sequence (tiles of 1024 sequences), then every entry found by binary search over the scanned
// offsets, so one long sequence costs no more than many short ones.
#pragma once

#include "common/griddep.cuh"
#include "qla/gdn/call_error.hpp"
#include "qla/gdn/work_list_params.hpp"

namespace qla::gdn {
namespace work_list_detail {

/// Exclusive block-wide scan of (a, b) over blockDim.x (a multiple of 32, ≤ 1024) threads; every
/// thread gets the block totals too.
__device__ __forceinline__ void block_exclusive_scan2(int a, int b, int& ex_a, int& ex_b,
                                                      int& total_a, int& total_b) {
  __shared__ int warp_a[32], warp_b[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  int ia = a, ib = b;  // inclusive within the warp
#pragma unroll
  for (int d = 1; d < 32; d *= 2) {
    const int ya = __shfl_up_sync(0xffffffffu, ia, d);
    const int yb = __shfl_up_sync(0xffffffffu, ib, d);
    if (lane >= d) {
      ia += ya;
      ib += yb;
    }
  }
  if (lane == 31) {
    warp_a[warp] = ia;
    warp_b[warp] = ib;
  }
  __syncthreads();
  int base_a = 0, base_b = 0;
  total_a = 0;
  total_b = 0;
  for (int w = 0; w < warps; ++w) {
    if (w == warp) {
      base_a = total_a;
      base_b = total_b;
    }
    total_a += warp_a[w];
    total_b += warp_b[w];
  }
  ex_a = base_a + ia - a;
  ex_b = base_b + ib - b;
  __syncthreads();  // warp_a/warp_b are reused by the next tile
}

/// The largest i in [0, n) with offsets[i] ≤ x (offsets non-decreasing, offsets[0] ≤ x).
__device__ __forceinline__ int last_at_or_below(const int* offsets, int n, int x) {
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (offsets[mid] <= x)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

}  // namespace work_list_detail

template <int Unused = 0>
__global__ void __launch_bounds__(1024) build_work_list_kernel(WorkListParams p) {
  cuda::griddep_chain();  // programmatic dependent launch (common/griddep.cuh)
  using namespace work_list_detail;
  __shared__ int bad;
  const int n = p.num_sequences;
  const int tid = threadIdx.x, threads = blockDim.x;
  const long long C = p.chunk, L = p.piece_chunks;

  if (tid == 0) bad = 0;
  __syncthreads();
  auto given = [&](int i) -> long long {
    return p.cu_in ? static_cast<long long>(p.cu_in[i]) : i * p.tokens_per_row;
  };
  for (int i = tid; i <= n; i += threads) {
    const long long x = given(i);
    if ((i == 0 && x != 0) || x > p.total_tokens || (i < n && given(i + 1) < x)) bad = 1;
  }
  __syncthreads();
  const bool invalid = bad != 0;
  // An invalid list becomes N empty sequences at the end of the rows: no kernel writes o.
  auto offset = [&](int i) -> long long { return invalid ? p.total_tokens : given(i); };
  if (tid == 0) *p.error = invalid ? kCallErrorOffsets : 0;
  for (int i = tid; i <= n; i += threads) p.cu[i] = static_cast<int>(offset(i));

  // Chunks and pieces per sequence, scanned into chunk_offset and raw_first_piece.
  int chunks = 0, pieces = 0;
  for (int base = 0; base < n; base += threads) {
    const int i = base + tid;
    int nc = 0, np = 0;
    if (i < n) {
      nc = static_cast<int>((offset(i + 1) - offset(i) + C - 1) / C);
      if (L > 0) np = nc > L ? static_cast<int>((nc + L - 1) / L) : 1;
    }
    int ex_c, ex_p, total_c, total_p;
    block_exclusive_scan2(nc, np, ex_c, ex_p, total_c, total_p);
    if (i < n) {
      p.chunk_offset[i] = chunks + ex_c;
      if (L > 0) p.raw_first_piece[i] = pieces + ex_p;
    }
    chunks += total_c;
    pieces += total_p;
  }
  if (tid == 0) {
    p.chunk_offset[n] = chunks;
    if (L > 0) p.raw_first_piece[n] = pieces;
  }
  __syncthreads();  // the offsets are read back by every thread below

  for (int e = tid; e < p.max_chunks; e += threads) {
    int seq = -1, c = e - chunks, piece = -1, pc = e - chunks;
    if (e < chunks) {
      seq = last_at_or_below(p.chunk_offset, n, e);
      c = e - p.chunk_offset[seq];
      if (L > 0) {
        piece = p.raw_first_piece[seq] + static_cast<int>(c / L);
        pc = static_cast<int>(c % L);
      }
    }
    p.chunk_index[2 * e] = seq;
    p.chunk_index[2 * e + 1] = c;
    if (L > 0) {
      p.piece_chunk_index[2 * e] = piece;
      p.piece_chunk_index[2 * e + 1] = pc;
    }
  }
  if (L == 0) return;
  for (int q = tid; q <= p.max_pieces; q += threads) {
    if (q < pieces) {
      const int seq = last_at_or_below(p.raw_first_piece, n, q);
      const int j = q - p.raw_first_piece[seq];
      const bool last = q == p.raw_first_piece[seq + 1] - 1;
      p.piece_cu[q] = static_cast<int>(offset(seq) + j * L * C);
      p.piece_chunk_offset[q] = p.chunk_offset[seq] + static_cast<int>(j * L);
      p.piece_is_last[q] = last ? 1 : 0;
      p.ht_index[q] = last && !invalid ? seq : -1;
    } else {
      p.piece_cu[q] = static_cast<int>(offset(n));
      p.piece_chunk_offset[q] = chunks;
      if (q < p.max_pieces) {
        p.piece_is_last[q] = 1;
        p.ht_index[q] = -1;
      }
    }
  }
}

}  // namespace qla::gdn
