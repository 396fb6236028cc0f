// Params of build_work_list_kernel. Builtin types only (host, nvcc and NVRTC).
#pragma once

namespace qla::gdn {

/// One launch: one CTA of 1024 threads builds every call's sequence metadata from the caller's
/// cu_seqlens, in the call's stream, so a plan serves any batch of its class without a host
/// synchronisation. What it writes (qla/gdn/work_list.hpp states the same contract for the host):
///  * cu [N+1]: the sequences' flat token offsets (a copy of cu_in, or 0, T, 2T, ... when cu_in is
///    null);
///  * chunk_index [2·max_chunks]: {sequence, chunk in sequence} for every chunk of C tokens, in
///    sequence order; the entries after the last chunk are padding entries {−1, j}, j = 0, 1, ...:
///    entry j covers the rows [cu[N] + j·C, cu[N] + (j+1)·C) after the last sequence;
///  * chunk_offset [N+1]: first chunk of each sequence (chunk_offset[N] = the chunk count);
///  * with piece_chunks = L > 0, the CP split: every sequence of more than L chunks is cut into
///    pieces of L·C tokens (the last takes the remainder), others stay one piece; piece_cu
///    [max_pieces+1], piece_chunk_index [2·max_chunks], piece_chunk_offset [max_pieces+1],
///    piece_is_last [max_pieces], ht_index [max_pieces] (raw sequence of a last piece, else −1),
///    raw_first_piece [N+1]. Pieces after the last are empty, at cu[N], last, with ht_index −1.
///  * error: the call's error word (qla/gdn/call_error.hpp), reset by every build: 0, or
///    kCallErrorOffsets when cu_in is not a valid offset list (cu[0] = 0, non-decreasing, cu[N] ≤
///    total_tokens); the outputs then describe N empty sequences at total_tokens, so no kernel of
///    the call writes anything. Later kernels of the call OR their own bits in.
struct WorkListParams {
  const int* cu_in;          ///< [N+1] device, or null: N sequences of tokens_per_row tokens
  int num_sequences;         ///< N
  long long tokens_per_row;  ///< T
  long long total_tokens;    ///< B·T rows of the token-major tensors
  int chunk;                 ///< C
  int piece_chunks;          ///< L; 0 = no CP split
  int max_chunks;            ///< entries of chunk_index (work_list_capacity)
  int max_pieces;            ///< pieces of the split (work_list_capacity)
  int* cu;
  int* chunk_index;
  int* chunk_offset;
  int* piece_cu;
  int* piece_chunk_index;
  int* piece_chunk_offset;
  int* piece_is_last;
  int* ht_index;
  int* raw_first_piece;
  int* error;
};

}  // namespace qla::gdn
