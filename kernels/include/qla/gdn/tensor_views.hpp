// Views of the GDN tensors that kernels receive inside their Params structs. Shared by host code
// (any C++17 compiler), nvcc and NVRTC: builtin types only, no includes.
//
// Conventions every GDN kernel follows:
//  * Token-major tensors [B, T, heads, dim] are addressed by *element* strides; the last dim is
//  contiguous.
//  * Sequences: `cu_seqlens` (int32, N+1 offsets into the flat token index b*T + t) is always given
//  to kernels,
//    also for fixed-length batches (the plan uploads 0, T, 2T, ... ); so kernels handle one packed
//    layout.
//  * Chunk work lists: `chunk_index[c] = {sequence, chunk-within-sequence}` for every chunk of
//    every sequence (FlashQLA's chunk_indices) for one chunk size, followed by padding entries
//    {-1, j} that kernels skip (the cumsum zeroes the rows after cu_seqlens[N] with them);
//    `chunk_offset[n]` = first chunk of sequence n (N+1 entries). Built on the device per call
//    (qla/gdn/work_list.hpp), so the grid of a chunk kernel is the list's capacity.
#pragma once

namespace qla::gdn {

/// A token-major tensor [B, T, heads, dim] (or [B, T, heads] when dim == 1), element strides.
struct TokenTensor {
  void* data;
  long long stride_batch;  ///< elements between batch rows; with cu_seqlens the flat token index is
                           ///< b*T + t
  long long stride_token;  ///< elements between consecutive tokens
  long long stride_head;   ///< elements between heads; the dim axis is contiguous
};

/// A per-sequence state tensor [N, heads, K, V] (fp32 unless a kernel says otherwise), contiguous.
struct StateTensor {
  void* data;  ///< null when absent (no initial state / no final state requested)
};

/// The sequences of a problem, as every kernel sees them.
struct SequenceView {
  const int* cu_seqlens;     ///< [N+1] device, flat token offsets (fixed-length: multiples of T)
  const int* chunk_index;    ///< [2*num_chunks] device pairs {sequence, chunk in sequence} for
                             ///< the plan's chunk size, padding entries {-1, j} last
  const int* chunk_offset;   ///< [N+1] device, first chunk of each sequence
  int num_sequences;         ///< N
  int num_chunks;            ///< entries of chunk_index (chunks, then padding entries)
  long long tokens_per_row;  ///< T, to split a flat token index into (b, t)
  long long total_tokens;    ///< B*T rows of the token-major tensors (padding included)
};

}  // namespace qla::gdn
