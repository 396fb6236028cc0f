// Context parallelism (CP) small kernels: warm-up counts and the serial correction of the pieces'
// initial states. Host side; device code gdn/cp_warmup.cuh and gdn/cp_correct.cuh.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/family.hpp"
#include "qla/gdn/cp_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// Config of cp_correct_states_kernel. Label e.g. "bv8.ms1.sk4.rt1".
struct CpCorrectConfig {
  int block_v = 8;  ///< V columns per CTA (8, 16, 32)
  /// Where M waits: 0 each thread's row in registers; 1 shared memory, by cp.async (sm_80+); 2
  /// shared memory, by tensor copies into 128-byte-swizzled boxes (sm_90+, one row a thread)
  int stage_m = 0;
  int split_k = 1;  ///< threads per state row (1, 2, 4): each sums 128 / split_k columns of M
  /// 4: each thread multiplies 4 rows by a quarter of M's columns, reduced across lanes (ms1, sk1,
  /// bv ≤ 16); 16: a warp multiplies 16 rows on tensor cores (TF32 split in three for fp32
  /// accuracy; ms1, sk2, bv ≤ 16); 1: one row
  int rows_per_thread = 1;

  Point to_point() const;
  static CpCorrectConfig from_point(
      const Point& p);  ///< throws UserError when p is not in the space
};

/// cp_warmup_counts_kernel has nothing to tune: one point.
struct CpWarmupConfig {};

inline constexpr int kCpCorrectBlockVValues[] = {8, 16, 32};        ///< state columns per CTA
inline constexpr int kCpCorrectStageMValues[] = {0, 1, 2};          ///< where M waits for its piece
inline constexpr int kCpCorrectSplitKValues[] = {1, 2, 4};          ///< threads per state row
inline constexpr int kCpCorrectRowsPerThreadValues[] = {1, 4, 16};  ///< rows a thread (16: a warp)

/// The declaration of gdn.cp_warmup (qla/family.hpp): no axes, one point.
struct CpWarmupFamily {
  using Config = CpWarmupConfig;
  static constexpr const char* kId = "gdn.cp_warmup";
  static constexpr const char* kRole = "cp_warmup";
  static constexpr const char* kVariant = "simt";
  static constexpr std::array<AxisDecl<Config>, 0> kAxes{};
  static constexpr Config kAot[] = {Config{}};
  static bool buildable(const Config&, const ArchInfo&) { return true; }
  static std::vector<cuda::KernelSpec> specs(const Config& c);
};

/// The declaration of gdn.cp_correct (qla/family.hpp): default bv8.ms0.sk1.rt1 (builds everywhere).
struct CpCorrectFamily {
  using Config = CpCorrectConfig;
  static constexpr const char* kId = "gdn.cp_correct";
  static constexpr const char* kRole = "cp_correct";
  static constexpr const char* kVariant = "simt";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("block_v", "bv", &Config::block_v, kCpCorrectBlockVValues, "state columns per CTA"),
      axis("stage_m", "ms", &Config::stage_m, kCpCorrectStageMValues,
           "where each piece's M waits: 0 in registers, 1 in shared memory by cp.async, 2 in "
           "shared memory by tensor copies (TMA, sm_90+, rt1)"),
      axis("split_k", "sk", &Config::split_k, kCpCorrectSplitKValues,
           "threads per state row, each summing 128 / sk columns of M (128 sk threads per CTA)"),
      axis("rows_per_thread", "rt", &Config::rows_per_thread, kCpCorrectRowsPerThreadValues,
           "4: a thread multiplies 4 rows by a quarter of M's columns, the lanes of a row group "
           "reduce by shuffles (ms1, sk1, bv <= 16); 16: a warp multiplies 16 rows on tensor "
           "cores, 3xTF32 (ms1, sk2, bv <= 16); 1: one row"),
  };
  /// The default and the untuned point where it builds (untuned_cp_correct_point), so an untuned
  /// plan launches without NVRTC.
  static constexpr Config kAot[] = {Config{}, Config{8, 1, 4, 1}, Config{8, 2, 1, 1}};
  /// ms1 needs cp.async (sm_80+), ms2 TMA (sm_90+) and one row a thread; every config needs
  /// cp_correct_dynamic_smem() plus the state slice per block; bv · sk ≤ 64 (registers); rt4 needs
  /// ms1, sk1 and bv ≤ 16; rt16 ms1, sk2 and bv ≤ 16.
  static bool buildable(const Config& c, const ArchInfo& arch);
  static std::vector<cuda::KernelSpec> specs(const Config& c);
};

inline Point CpCorrectConfig::to_point() const { return qla::to_point<CpCorrectFamily>(*this); }
inline CpCorrectConfig CpCorrectConfig::from_point(const Point& p) {
  return qla::from_point<CpCorrectFamily>(p);
}

/// The untuned point of gdn.cp_correct on `arch`: bv8.ms2.sk1.rt1 where it builds (sm_90+; an H200
/// measured the op 0.964x with bv8.ms1.sk4 at 2/8 heads 1x32768 tokens, 0.989x over six CP shapes,
/// 2026-12-01), else bv8.ms1.sk4.rt1 where that builds (sm_80; an H200 measured it 0.94x-0.99x the
/// op's time with bv8.ms0.sk1 at 2/8 and 4/16 heads, 8192 and 32768 tokens, 2026-11-29), else the
/// family's default bv8.ms0.sk1.rt1.
Point untuned_cp_correct_point(const ArchInfo& arch);

/// Space "gdn.cp_warmup" (no axes: one point).
inline const SpaceDecl& cp_warmup_space() { return space_of<CpWarmupFamily>(); }
/// Space "gdn.cp_correct".
inline const SpaceDecl& cp_correct_space() { return space_of<CpCorrectFamily>(); }
cuda::KernelSpec cp_warmup_spec();
cuda::KernelSpec cp_correct_spec(const CpCorrectConfig& c);
/// Grid (pieces, ceil(heads/4)), 128 threads: one warp per (piece, head).
cuda::LaunchShape cp_warmup_shape(int num_pieces, int heads);
/// Grid (128/BV, heads, raw sequences), 128·sk threads, cp_correct_dynamic_smem(c) bytes.
cuda::LaunchShape cp_correct_shape(const CpCorrectConfig& c, int heads, int raw_sequences);
/// Dynamic shared memory of cp_correct_states_kernel: two staged M buffers of 128 x 132 floats
/// (ms1) or of 128 x 128 floats after up to 1 KB of alignment (ms2), then the partial sums of the
/// sk − 1 threads of a row that do not own it (128 x BV floats each).
std::size_t cp_correct_dynamic_smem(const CpCorrectConfig& c);

/// FlashQLA's piece length in chunks: 2^round(log2(3·sqrt(heads·total_chunks/sm_count))), ≥ 4.
int cp_piece_chunks_heuristic(int heads, long long total_chunks, int sm_count);

/// qla's untuned piece length in chunks: twice FlashQLA's. qla's correction walks the pieces of a
/// sequence serially, one step per piece, so fewer, longer pieces pay for longer: on an H200
/// (2026-11-29, CUDA graph, the untuned members, CP on) twice FlashQLA's length was the fastest of
/// 8, 16, 32 and 64 chunks at 2/8 and 4/16 heads, 8192 and 32768 tokens, by 4 %–17 %.
int cp_piece_chunks_untuned(int heads, long long total_chunks, int sm_count);

/// FlashQLA's SM90 rule for turning CP on, chunks of C tokens: tensor batch B == 1 and
/// (Be·H_v ≤ 40 or (Be·H_v ≤ 56 and max NT ≥ 128)), Be = ΣNT / max NT (the "effective batch").
bool cp_flashqla_rule(const Problem& p, int chunk);

/// The untuned rule for turning CP on (CpMode::kAuto): tensor batch B == 1, Be·H_v ≤ 40 and the
/// longest sequence, in chunks of 64 tokens, at least 8·min(Be·H_v, 8) and 4·Be·H_v where Be·H_v ≤
/// 24, else 6·Be·H_v. Fitted to the plans tuned on an H200 over FlashQLA's forward matrix (171
/// problems, 2026-11-30, qla 7bed7e4): CP won 1.04x-1.91x over the earlier rule (Be·H_v ≤ 16, NT ≥
/// 8·Be·H_v) at 4/16 and 16/16 4096 tokens, every two-sequence mix of 16 value heads, 8/24 from
/// 8192 tokens and 8/32, 16/32, 32/32 from 16384 (one sequence or two of 16384 or a 28672-token
/// one), and lost or tied (0.99x-1.03x) at 2/8 2048, Be·H_v 32 with 8192 tokens (2/8 8192x4, 16/32
/// 1x8192) and from Be·H_v 42.7 on; FlashQLA's rule (Be·H_v ≤ 40 or ≤ 56 from 128 chunks) turns it
/// on for 1x2048 sequences of 16 and 32 value heads, which ran 1.26x-1.73x slower with it
/// (2026-11-29).
bool cp_untuned_rule(const Problem& p, int chunk);

/// The CP split of a problem's sequences into pieces: every sequence with more than
/// `piece_chunks` chunks is cut into pieces of exactly piece_chunks·C tokens (the last takes the
/// remainder); shorter ones (also empty ones) stay one piece. Pieces are in sequence order; offsets
/// are flat token rows.
struct CpSplit {
  int piece_chunks = 0;      ///< L, chunks per piece
  std::vector<int> cu;       ///< [P+1] flat token offsets of the pieces (cu[P] = cu_seqlens[N])
  std::vector<int> raw;      ///< [P] raw sequence of each piece
  std::vector<int> is_last;  ///< [P] 1 when the piece ends its raw sequence
  std::vector<int> raw_first_piece;  ///< [N+1] first piece of each raw sequence
  std::vector<int>
      ht_index;  ///< [P] raw sequence for the last piece (its ht is the user's), else −1
  /// P, the number of pieces (0 for an empty split).
  int pieces() const { return static_cast<int>(raw.size()); }
  /// Whether some sequence was cut (P > N); otherwise CP would only add work.
  bool splits() const { return pieces() > static_cast<int>(raw_first_piece.size()) - 1; }
};
/// Splits `p` into pieces of `piece_chunks` (≥ 1) chunks of `chunk` tokens.
CpSplit cp_split(const Problem& p, int piece_chunks, int chunk);

}  // namespace qla::gdn
