// A problem on disk: a folder holding `problem.json` (the gdn::Problem) and one .npy per tensor
// (q, k, v, g, beta, [h0], [cu_seqlens], [do], [dht]; names as in gdn::tensor_shape), as `qla
// generate` writes it and `qla reference` / `qla run` read it. Also StagedDir, which makes a whole
// set of output files appear together or not at all.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "qla/gdn/problem.hpp"
#include "qla/io/generate.hpp"
#include "qla/io/tensor.hpp"

namespace qla::gdn {

/// problem.json's text. Keys: format ("qla.gdn.problem/1"), batch, tokens, h_qk, h_v, k_dim, v_dim,
/// qkv_dtype, gate_dtype, beta_dtype (dtype_name strings), initial_state, final_state, l2norm_qk
/// (booleans), scale (number or null = K^-1/2), cu_seqlens (array, only for varlen), and, when
/// `generated_by` is given, a "generator" object {distribution, seed, backward} recording how the
/// tensors were made.
std::string problem_to_json(const Problem& problem, const GenerateOptions* generated_by = nullptr);

/// Parses problem.json text; `source` names the file in messages. Required keys: batch, tokens,
/// h_qk, h_v; the others default to gdn::Problem's defaults. Unknown keys and wrongly typed values
/// are UserErrors naming the key. Does not call Problem::validate().
Problem problem_from_json(std::string_view text, const std::string& source);

/// What read_problem_dir loads and how strictly it checks.
struct ReadOptions {
  bool backward = false;       ///< also read do.npy (required) and dht.npy (optional)
  bool allow_padding = false;  ///< cu_seqlens may end before T
};

/// A problem and its tensors, as read from a folder.
struct ProblemDir {
  Problem problem;
  ProblemTensors tensors;
};

/// Reads `dir`/problem.json and the tensors it implies, then runs validate_inputs. cu_seqlens come
/// from cu_seqlens.npy when that file exists (it must agree with problem.json's cu_seqlens when
/// both are given), otherwise from problem.json. Every failure is a UserError naming the file or
/// tensor.
ProblemDir read_problem_dir(const std::filesystem::path& dir, const ReadOptions& options = {});

/// Writes problem.json and every present tensor of `tensors` into `dir` (which must exist), one
/// file at a time; use a StagedDir to make the set appear at once.
void write_problem_dir(const std::filesystem::path& dir, const Problem& problem,
                       const ProblemTensors& tensors,
                       const GenerateOptions* generated_by = nullptr);

/// A hidden staging folder beside `target` that output files are written into; commit() makes it
/// `target` as a whole (an atomic rename, or an atomic exchange with an existing `target`), so
/// readers see the old folder or the new one, never a mix. An existing `target` may hold only files
/// qla writes
/// (.npy, problem.json): anything else is a UserError at construction. Destroying an uncommitted
/// StagedDir removes the staging folder; staging folders left by killed processes are removed when
/// the next StagedDir of the same target is made. Move-only. Removes the staging folders of
/// `target` whose process no longer runs.
void remove_stale_staging(const std::filesystem::path& target);

class StagedDir {
 public:
  /// Creates the staging folder (and target's parent folders). Throws UserError when that is
  /// impossible, or when `target` exists and is not a folder.
  explicit StagedDir(std::filesystem::path target);
  ~StagedDir();
  StagedDir(StagedDir&& other) noexcept;
  StagedDir& operator=(StagedDir&& other) noexcept;
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;

  /// The staging folder to write into.
  const std::filesystem::path& path() const { return staging_; }
  const std::filesystem::path& target() const { return target_; }
  /// Makes the staged folder `target`, replacing an existing one as a whole.
  void commit();

 private:
  void discard() noexcept;

  std::filesystem::path target_;
  std::filesystem::path staging_;
};

}  // namespace qla::gdn
