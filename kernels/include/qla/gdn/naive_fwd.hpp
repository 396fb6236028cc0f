// Baseline (a), the naive recurrent forward: host side (config space, kernel spec, launch shape,
// checks). Device code: kernels/device/gdn/naive_fwd.cuh; params: naive_fwd_params.hpp.
#pragma once

#include <string>
#include <vector>

#include "qla/cuda/kernel_spec.hpp"
#include "qla/dtype.hpp"
#include "qla/family.hpp"
#include "qla/gdn/naive_fwd_params.hpp"
#include "qla/gdn/problem.hpp"
#include "qla/space.hpp"

namespace qla::gdn {

/// One point of naive_fwd's space.
struct NaiveFwdConfig {
  int block_v = 32;  ///< BV: value columns per CTA (32, 64, 128); grid.x = 128 / BV
  int k_split = 4;   ///< threads per state column (4, 8, 16); each holds 128 / k_split state rows

  Point to_point() const;
  static NaiveFwdConfig from_point(
      const Point& p);  ///< throws UserError when p is not in the space
};

inline constexpr int kNaiveFwdBlockVValues[] = {32, 64, 128};  ///< value columns per CTA
inline constexpr int kNaiveFwdKSplitValues[] = {4, 8, 16};     ///< threads per state column

/// The declaration of gdn.naive_fwd (qla/family.hpp): default bv32.ks4.
struct NaiveFwdFamily {
  using Config = NaiveFwdConfig;
  static constexpr const char* kId = "gdn.naive_fwd";
  static constexpr const char* kRole = "recurrent_fwd";
  static constexpr const char* kVariant = "simt";
  static constexpr AxisDecl<Config> kAxes[] = {
      axis("block_v", "bv", &Config::block_v, kNaiveFwdBlockVValues, "value columns per CTA"),
      axis("k_split", "ks", &Config::k_split, kNaiveFwdKSplitValues,
           "threads sharing one state column (128/ks state rows each)"),
  };
  static constexpr Config kAot[] = {Config{}};
  /// 32 to 1024 threads per CTA.
  static bool buildable(const Config& c, const ArchInfo&) {
    const int threads = c.block_v * c.k_split;
    return threads >= 32 && threads <= 1024;
  }
  /// bf16 and fp16 q/k/v, each with f32 or bf16 g and β.
  static std::vector<cuda::KernelSpec> specs(const Config& c);
};

inline Point NaiveFwdConfig::to_point() const { return qla::to_point<NaiveFwdFamily>(*this); }
inline NaiveFwdConfig NaiveFwdConfig::from_point(const Point& p) {
  return qla::from_point<NaiveFwdFamily>(p);
}

/// gdn.naive_fwd's space (space_of<NaiveFwdFamily>()).
inline const SpaceDecl& naive_fwd_space() { return space_of<NaiveFwdFamily>(); }
/// Source "gdn/naive_fwd.cuh", name "qla::gdn::naive_fwd_kernel<BV, KS, T, TG, TB>".
cuda::KernelSpec naive_fwd_spec(const NaiveFwdConfig& c, DType qkv, DType gate, DType beta);
/// Grid (128 / BV, h_v, N), BV*k_split threads, no dynamic smem.
cuda::LaunchShape naive_fwd_shape(const NaiveFwdConfig& c, int h_v, long long num_sequences);
/// Empty when the kernel can run `p` with `c`, else the reason (K = V = 128 only, bf16/fp16 q/k/v,
/// ...).
std::string naive_fwd_can_implement(const Problem& p, const NaiveFwdConfig& c);

}  // namespace qla::gdn
