#include "qla/gdn/cp.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"

namespace qla::gdn {

std::vector<cuda::KernelSpec> CpWarmupFamily::specs(const Config&) { return {cp_warmup_spec()}; }

std::vector<cuda::KernelSpec> CpCorrectFamily::specs(const Config& c) {
  return {cp_correct_spec(c)};
}

cuda::KernelSpec cp_warmup_spec() {
  return {"gdn/cp_warmup.cuh", "qla::gdn::cp_warmup_counts_kernel<0>",
          cuda::params_layout<CpWarmupParams>()};
}

bool CpCorrectFamily::buildable(const Config& c, const ArchInfo& arch) {
  if (c.stage_m == 1 && arch.cc_major < 8) return false;                              // cp.async
  if (c.stage_m == 2 && (arch.cc_major < 9 || c.rows_per_thread != 1)) return false;  // TMA
  // 512 threads leave 128 registers a thread: too few for 32 columns of the row, their sums and ht
  // (ptxas spills, sm_90a).
  if (c.block_v * c.split_k > 64) return false;
  if (c.rows_per_thread == 4 && (!c.stage_m || c.split_k != 1 || c.block_v > 16)) return false;
  // Tensor cores: eight warps of 16 rows write M h to the partial-sum buffer of sk2.
  if (c.rows_per_thread == 16 && (!c.stage_m || c.split_k != 2 || c.block_v > 16)) return false;
  const std::size_t state_slice =
      kCpStateRows * static_cast<std::size_t>(c.block_v) * sizeof(float);
  return cp_correct_dynamic_smem(c) + state_slice <=
         static_cast<std::size_t>(arch.smem_per_block_optin);
}

std::size_t cp_correct_dynamic_smem(const CpCorrectConfig& c) {
  const auto rows = static_cast<std::size_t>(kCpStateRows);
  const std::size_t staged = c.stage_m == 1   ? 2 * rows * kCpStagedMPitch * sizeof(float)
                             : c.stage_m == 2 ? 2 * rows * rows * sizeof(float) + 1024
                                              : 0;
  const std::size_t partials = static_cast<std::size_t>(c.split_k - 1) * kCpStateRows *
                               static_cast<std::size_t>(c.block_v) * sizeof(float);
  return staged + partials;
}

Point untuned_cp_correct_point(const ArchInfo& arch) {
  for (const CpCorrectConfig c : {CpCorrectConfig{8, 2, 1, 1}, CpCorrectConfig{8, 1, 4, 1}})
    if (CpCorrectFamily::buildable(c, arch)) return c.to_point();
  return cp_correct_space().default_point;
}

cuda::KernelSpec cp_correct_spec(const CpCorrectConfig& c) {
  return {"gdn/cp_correct.cuh",
          "qla::gdn::cp_correct_states_kernel<" + std::to_string(c.block_v) + ", " +
              std::to_string(c.stage_m) + ", " + std::to_string(c.split_k) + ", " +
              std::to_string(c.rows_per_thread) + ">",
          cuda::params_layout<CpCorrectParams>()};
}

cuda::LaunchShape cp_warmup_shape(int num_pieces, int heads) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(num_pieces), static_cast<unsigned>((heads + 3) / 4), 1};
  s.block = {128, 1, 1};
  return s;
}

cuda::LaunchShape cp_correct_shape(const CpCorrectConfig& c, int heads, int raw_sequences) {
  cuda::LaunchShape s;
  s.grid = {static_cast<unsigned>(128 / c.block_v), static_cast<unsigned>(heads),
            static_cast<unsigned>(raw_sequences)};
  s.block = {static_cast<unsigned>(kCpStateRows * c.split_k), 1, 1};
  s.dynamic_smem = cp_correct_dynamic_smem(c);
  return s;
}

int cp_piece_chunks_heuristic(int heads, long long total_chunks, int sm_count) {
  const double x = 3.0 * std::sqrt(static_cast<double>(heads) * static_cast<double>(total_chunks) /
                                   std::max(sm_count, 1));
  const int l = 1 << static_cast<int>(std::lround(std::log2(std::max(x, 1.0))));
  return std::max(l, 4);
}

int cp_piece_chunks_untuned(int heads, long long total_chunks, int sm_count) {
  return 2 * cp_piece_chunks_heuristic(heads, total_chunks, sm_count);
}

namespace {

// ΣNT / max NT (the effective batch) times H_v, and max NT, in chunks of `chunk`; nullopt for a
// tensor batch (B > 1) or no tokens.
std::optional<std::pair<double, long long>> cp_effective_heads(const Problem& p, int chunk) {
  if (p.batch != 1) return std::nullopt;
  long long total = 0, longest = 0;
  for (long long n = 0; n < p.num_sequences(); ++n) {
    const long long nt = (p.seq_length(n) + chunk - 1) / chunk;
    total += nt;
    longest = std::max(longest, nt);
  }
  if (longest == 0) return std::nullopt;
  return std::make_pair(static_cast<double>(total) / static_cast<double>(longest) * p.h_v, longest);
}

}  // namespace

bool cp_flashqla_rule(const Problem& p, int chunk) {
  const auto e = cp_effective_heads(p, chunk);
  return e && (e->first <= 40.0 || (e->first <= 56.0 && e->second >= 128));
}

bool cp_untuned_rule(const Problem& p, int chunk) {
  const auto e = cp_effective_heads(p, chunk);
  if (!e || e->first > 40.0) return false;
  const double heads = e->first;
  // The longest sequence in chunks of 64 tokens, where the thresholds were measured.
  const double longest = static_cast<double>(e->second) * chunk / 64.0;
  const double need =
      heads <= 24.0 ? std::max(8.0 * std::min(heads, 8.0), 4.0 * heads) : 6.0 * heads;
  return longest >= need;
}

CpSplit cp_split(const Problem& p, int piece_chunks, int chunk) {
  QLA_REQUIRE(piece_chunks >= 1 && chunk >= 1, "CP piece length must be at least one chunk (got "
                                                   << piece_chunks << " chunks of " << chunk
                                                   << " tokens)");
  CpSplit s;
  s.piece_chunks = piece_chunks;
  const long long piece_tokens = static_cast<long long>(piece_chunks) * chunk;
  s.cu.push_back(0);  // sequences are contiguous from row 0 (Problem::validate), so a piece starts
                      // where the last ended
  for (long long n = 0; n < p.num_sequences(); ++n) {
    s.raw_first_piece.push_back(s.pieces());
    const long long begin = p.seq_begin(n), len = p.seq_length(n);
    QLA_REQUIRE(s.cu.back() == begin, "cp_split: sequences must be contiguous");
    long long at = 0;
    do {
      const long long take = std::min(piece_tokens, len - at);
      at += take;
      s.cu.push_back(static_cast<int>(begin + at));
      s.raw.push_back(static_cast<int>(n));
      s.is_last.push_back(at >= len ? 1 : 0);
      s.ht_index.push_back(at >= len ? static_cast<int>(n) : -1);
    } while (at < len);
  }
  s.raw_first_piece.push_back(s.pieces());
  return s;
}

namespace {
const bool kRegisteredWarmup = cuda::register_family<CpWarmupFamily>();
const bool kRegisteredCorrect = cuda::register_family<CpCorrectFamily>();
}  // namespace

}  // namespace qla::gdn
