// A call's sequence metadata: the chunk work lists and the CP split, built on the device from the
// call's cu_seqlens (gdn/work_list.cuh) so that one plan serves every batch of its class with no
// host synchronisation and no allocation per call. The host builds the same lists here
// (build_work_list), for tests and for kernels driven directly.
#pragma once

#include <array>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/family.hpp"
#include "qla/gdn/work_list_params.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// Entries the lists of a call need at most: chunk entries max_chunks = ceil(rows/C) + N + 1 (the
/// chunks of every sequence, and padding entries for the rows after cu[N]); pieces max_pieces =
/// ceil(max_chunks/L) + N with L > 0, else 0.
struct WorkListCapacity {
  int max_chunks = 0;
  int max_pieces = 0;
};
/// The capacity for `rows` token rows (B·T), `sequences` sequences, chunk size `chunk`, piece
/// length `piece_chunks` (0 = no split). Throws UserError when a list would not fit int32.
WorkListCapacity work_list_capacity(long long rows, long long sequences, int chunk,
                                    int piece_chunks);

/// The lists exactly as build_work_list_kernel writes them (work_list_params.hpp).
struct WorkList {
  std::vector<int> cu, chunk_index, chunk_offset;
  std::vector<int> piece_cu, piece_chunk_index, piece_chunk_offset, piece_is_last, ht_index,
      raw_first_piece;
  int error = 0;
  int chunks() const { return chunk_offset.back(); }
  int pieces() const { return raw_first_piece.empty() ? 0 : raw_first_piece.back(); }
};
/// Builds the lists on the host; `cu_in` empty means `sequences` sequences of `tokens_per_row`.
WorkList build_work_list(const std::vector<int>& cu_in, int sequences, long long tokens_per_row,
                         long long rows, int chunk, int piece_chunks,
                         const WorkListCapacity& capacity);

/// build_work_list_kernel has nothing to tune: one point.
struct WorkListConfig {};

/// The declaration of gdn.work_list (qla/family.hpp): no axes, one point, built ahead of time.
struct WorkListFamily {
  using Config = WorkListConfig;
  static constexpr const char* kId = "gdn.work_list";
  static constexpr const char* kRole = "work_list";
  static constexpr const char* kVariant = "simt";
  static constexpr std::array<AxisDecl<Config>, 0> kAxes{};
  static constexpr Config kAot[] = {Config{}};
  static bool buildable(const Config&, const ArchInfo&) { return true; }
  static std::vector<cuda::KernelSpec> specs(const Config& c);
};

/// Space "gdn.work_list" (no axes: one point).
inline const SpaceDecl& work_list_space() { return space_of<WorkListFamily>(); }
/// "qla::gdn::build_work_list_kernel<0>" from "gdn/work_list.cuh".
cuda::KernelSpec work_list_spec();
/// One CTA of 1024 threads.
cuda::LaunchShape work_list_shape();

}  // namespace qla::gdn
