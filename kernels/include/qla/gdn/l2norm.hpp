// l2norm of q/k per head vector (FLA's use_qk_l2norm_in_kernel): host side. Device code
// gdn/l2norm.cuh.
#pragma once

#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/family.hpp"
#include "qla/gdn/l2norm_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// One point of l2norm's space.
struct L2NormConfig {
  int warps = 4;  ///< 4 or 8

  Point to_point() const;
  static L2NormConfig from_point(const Point& p);  ///< throws UserError when p is not in the space
};

inline constexpr int kL2NormWarpsValues[] = {4, 8};  ///< warps (= head vectors) per CTA

/// The declaration of gdn.l2norm (qla/family.hpp): default w4.
struct L2NormFamily {
  using Config = L2NormConfig;
  static constexpr const char* kId = "gdn.l2norm";
  static constexpr const char* kRole = "qk_norm";
  static constexpr const char* kVariant = "simt";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("warps", "w", &Config::warps, kL2NormWarpsValues, "warps (= head vectors) per CTA"),
  };
  static constexpr Config kAot[] = {Config{}};
  static bool buildable(const Config&, const ArchInfo&) { return true; }
  /// bf16 and fp16 q/k.
  static std::vector<cuda::KernelSpec> specs(const Config& c);
};

inline Point L2NormConfig::to_point() const { return qla::to_point<L2NormFamily>(*this); }
inline L2NormConfig L2NormConfig::from_point(const Point& p) {
  return qla::from_point<L2NormFamily>(p);
}

/// gdn.l2norm's space (space_of<L2NormFamily>()).
inline const SpaceDecl& l2norm_space() { return space_of<L2NormFamily>(); }
/// "qla::gdn::l2norm_kernel<W, T>" from "gdn/l2norm.cuh"; T bf16 or fp16.
cuda::KernelSpec l2norm_spec(const L2NormConfig& c, DType dtype);
/// ceil(rows*heads / warps) CTAs of warps*32 threads.
cuda::LaunchShape l2norm_shape(const L2NormConfig& c, long long rows, int heads);
/// Empty, or why not (head dim 128, dtype).
std::string l2norm_can_implement(const Problem& p, const L2NormConfig& c);

}  // namespace qla::gdn
