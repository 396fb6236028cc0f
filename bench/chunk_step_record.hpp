// The chunk-step record (schema "qla.chunk_step.v1"): what qla_chunk_step_profile measured on one
// card at one commit, per shape, stage count and operand type: the kernel time, the chunk step it
// implies and the cycles per chunk of every loop phase of every role. `qla report` quotes it.
// Host-only, tested on the CPU.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace qla::bench {

/// One profiled configuration.
struct ChunkStepRow {
  int h_qk = 0, h_v = 0;
  long long tokens = 0;          ///< one sequence
  std::string pass = "forward";  ///< "forward" (the chunk forward) or "state" (the CP state pass)
  int stages = 0;
  std::string operands;  ///< "fp16", "bf16" or "bf16+fp16" (fp16 for the intermediates' products)
  int ctas = 0, waves = 0;
  double kernel_ms = 0, step_us = 0;
  double sm_mhz = 0;  ///< the SM clock the state role's loops ran at (0: not measured)
  int warm_ms = 0;    ///< untimed launches before the timed ones, milliseconds
  /// Per role (in print order), its phases' cycles per chunk, averaged over the CTAs.
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, double>>>> roles;
};

/// Where and when: every row of a record shares them.
struct ChunkStepContext {
  std::string device;  ///< card name
  int sm_count = 0;
  std::string git_commit;
  std::string date;  ///< YYYY-MM-DD
};

nlohmann::json to_json(const ChunkStepRow& r);

/// Adds `rows` to the record at `path`, written atomically (beside it, then renamed). A record of
/// another card or commit is replaced; within one, a row of the same shape, pass, stages and
/// operands is.
void append_chunk_step_rows(const std::string& path, const ChunkStepContext& ctx,
                            const std::vector<ChunkStepRow>& rows);

}  // namespace qla::bench
