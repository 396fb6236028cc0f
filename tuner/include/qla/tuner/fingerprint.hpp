// The device fingerprint the store keys every trial by: what makes two measurements comparable.
// Trials whose fingerprint differs are never mixed with current ones (the lookup may still fall
// back to another device of the same compute capability, and says so). Plain C++17.
//
// The facts come from the device's DeviceReport (device_report.hpp, also what `qla devices`
// prints).
#pragma once

#include <cstdint>
#include <string>

namespace qla::tuner {

/// Identity of a GPU + software stack, as stored in the `devices` table.
struct DeviceFingerprint {
  std::string name;  ///< cudaDeviceProp::name, e.g. "NVIDIA H100 80GB HBM3"
  int cc_major = 0;  ///< compute capability
  int cc_minor = 0;
  int sm_count = 0;           ///< multiprocessors
  std::int64_t l2_bytes = 0;  ///< L2 cache size, bytes
  int mem_clock_khz = 0;      ///< peak memory clock, kHz
  int mem_bus_bits = 0;       ///< memory bus width, bits
  int driver_version = 0;     ///< cudaDriverGetVersion, e.g. 13000
  int runtime_version = 0;    ///< cudaRuntimeGetVersion
  int nvrtc_version = 0;      ///< major * 1000 + minor * 10, 0 when unknown

  /// Stable hex digest (FNV-1a 64) of every field: the key the store compares.
  std::string digest() const;
  /// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)".
  std::string describe() const;
  /// File-name form of `name` for the default store path: lowercase, [a-z0-9-] only
  /// ("nvidia-h100-80gb-hbm3").
  std::string slug() const;
};

struct DeviceReport;
/// The store's comparison subset of a device report.
DeviceFingerprint fingerprint_of(const DeviceReport& d);

/// Reads the fingerprint of CUDA device `device`. Throws UserError "no CUDA GPU: <reason>" when
/// there is no usable device or the index is out of range.
DeviceFingerprint read_fingerprint(int device);

}  // namespace qla::tuner
