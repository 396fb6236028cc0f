// Planning one GDN forward: which algorithm, which config of every kernel, whether and how to split long
// sequences (CP), and the device metadata the kernels read. make_plan may allocate, upload and JIT-compile;
// forward() afterwards does neither (forward.hpp).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "qla/cuda/device_info.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/gdn/tensor_views.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// The forward algorithms.
enum class Algorithm {
  kFused,    ///< FlashQLA's: cumsum, kkt_solve, [CP], fused_fwd (K2's kernels)
  kUnfused,  ///< baseline (b): FLA-style five-kernel pipeline (K3's)
  kNaive,    ///< baseline (a): token-by-token recurrence
};
/// "fused", "unfused", "naive".
const char* algorithm_name(Algorithm a);
/// Inverse of algorithm_name; nullopt when unknown.
std::optional<Algorithm> parse_algorithm(const std::string& name);

/// Context parallelism of the fused path.
enum class CpMode { kOff, kOn, kAuto };

/// Where a config comes from when no explicit one is given: (kernel id, problem, arch) → point, or nullopt.
using ConfigLookup =
    std::function<std::optional<Point>(const std::string& kernel, const Problem& problem, const ArchInfo& arch)>;

/// What the caller may force. Precedence per kernel: `configs` > `lookup` > the space's default.
struct PlanOptions {
  Algorithm algorithm = Algorithm::kFused;
  std::map<std::string, Point> configs;  ///< kernel id ("gdn.naive_fwd", ...) → point
  ConfigLookup lookup;                   ///< the tuner's lookup; empty = none
  CpMode cp = CpMode::kAuto;
  int cp_piece_chunks = 0;               ///< chunks per CP piece; 0 = FlashQLA's rule (GDN.md §3.2)
  float cp_threshold = -10.f;            ///< warm-up stops once the summed log decay is below this
};

/// A ready-to-run forward for one Problem on one device. Move-only; owns its device metadata.
class Plan {
 public:
  Plan();
  ~Plan();
  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  const Problem& problem() const;
  Algorithm algorithm() const;
  /// Bytes of scratch the caller passes to forward() (256-byte aligned pointer).
  std::size_t workspace_bytes() const;
  /// Empty when forward() can run; else why not (the plan then returns not_implemented).
  const std::string& not_implemented_reason() const;
  /// Kernel id → the config label chosen ("gdn.naive_fwd" → "bv32.ks4"), for logs and the tuner.
  const std::map<std::string, std::string>& config_labels() const;
  /// CP decision: pieces of the split (0 = CP off) and chunks per piece.
  int cp_pieces() const;
  int cp_piece_chunks() const;
  /// The sequences as kernels see them (C = 64 work list).
  const SequenceView& sequences() const;

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

/// Validates the problem (UserError), picks configs and uploads metadata. Unsupported problems (K ≠ 128, a
/// missing kernel) do not throw: the plan carries the reason and forward() returns not_implemented.
Plan make_plan(const Problem& problem, const cuda::DeviceInfo& device, const PlanOptions& options = {});

}  // namespace qla::gdn
