// chunk_local_cumsum: host side. Device code kernels/device/gdn/cumsum.cuh (what it writes is
// documented there).
#pragma once

#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/family.hpp"
#include "qla/gdn/cumsum_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// One point of the chunk-local cumsum's space.
struct CumsumConfig {
  int chunk = 64;  ///< C: 32, 64 or 128 tokens

  Point to_point() const;
  static CumsumConfig from_point(const Point& p);  ///< throws UserError when p is not in the space
};

inline constexpr int kCumsumChunkValues[] = {32, 64, 128};  ///< C, tokens

/// The declaration of gdn.cumsum (qla/family.hpp): default c64. Built ahead of time at every C.
struct CumsumFamily {
  using Config = CumsumConfig;
  static constexpr const char* kId = "gdn.cumsum";
  static constexpr const char* kRole = "gate_prep";
  static constexpr const char* kVariant = "simt";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("chunk", "c", &Config::chunk, kCumsumChunkValues,
           "tokens per chunk (must equal the consuming kernels' C)"),
  };
  static constexpr Config kAot[] = {Config{64}, Config{32}, Config{128}};
  static bool buildable(const Config&, const ArchInfo&) { return true; }
  /// Forward and reverse, f32 and bf16 gates.
  static std::vector<cuda::KernelSpec> specs(const Config& c);
};

inline Point CumsumConfig::to_point() const { return qla::to_point<CumsumFamily>(*this); }
inline CumsumConfig CumsumConfig::from_point(const Point& p) {
  return qla::from_point<CumsumFamily>(p);
}

/// gdn.cumsum's space (space_of<CumsumFamily>()).
inline const SpaceDecl& cumsum_space() { return space_of<CumsumFamily>(); }
/// "qla::gdn::chunk_local_cumsum_kernel<C, Reverse, TG>" from "gdn/cumsum.cuh"; gate fp32 or bf16.
cuda::KernelSpec cumsum_spec(const CumsumConfig& c, bool reverse, DType gate);
/// Grid (work-list entries, ceil(heads/32)), 128 threads.
cuda::LaunchShape cumsum_shape(const CumsumConfig& c, int entries, int heads);
/// Empty, or why not (gate dtype).
std::string cumsum_can_implement(const Problem& p, const CumsumConfig& c);

}  // namespace qla::gdn
