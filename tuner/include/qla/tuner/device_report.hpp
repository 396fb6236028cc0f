// What `qla devices` reports of each GPU: every fact the tuner's DeviceFingerprint
// (fingerprint.hpp, the store's comparison key) is made of, plus descriptive extras (ordinal, UUID,
// memory, SM clock). Read through the CUDA runtime (linked statically) and NVRTC, so it works, and
// says why not, on machines without a GPU or driver.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qla::tuner {

/// One GPU and the software stack that drives it.
struct DeviceReport {
  int ordinal = 0;   ///< CUDA runtime device index
  std::string name;  ///< e.g. "NVIDIA H100 80GB HBM3"
  std::string uuid;  ///< "GPU-xxxxxxxx-xxxx-..." (descriptive; not part of the comparison key)
  int cc_major = 0;  ///< compute capability, major
  int cc_minor = 0;  ///< compute capability, minor
  int sm_count = 0;  ///< streaming multiprocessors
  std::int64_t l2_bytes = 0;      ///< L2 cache size, bytes
  std::int64_t memory_bytes = 0;  ///< global memory, bytes
  int sm_clock_khz = 0;           ///< peak SM clock, kHz (cudaDevAttrClockRate)
  int mem_clock_khz = 0;          ///< peak memory clock, kHz (cudaDevAttrMemoryClockRate)
  int mem_bus_bits = 0;           ///< memory bus width, bits
  int driver_version = 0;         ///< cudaDriverGetVersion, e.g. 13000 = 13.0
  int runtime_version = 0;        ///< cudaRuntimeGetVersion
  int nvrtc_major = 0;            ///< nvrtcVersion
  int nvrtc_minor = 0;

  /// Peak DRAM bandwidth from clock and bus width (double data rate), GB/s (1e9 bytes/s).
  double peak_bandwidth_gbs() const;
  /// One line: "0: NVIDIA H100 80GB HBM3, sm_90, 132 SMs, L2 50 MiB, 80 GiB, mem 2619 MHz x 5120
  /// bit (3352 GB/s), SM 1980 MHz, driver 13.0, runtime 13.0, NVRTC 13.0".
  std::string describe() const;
  /// JSON object text with every field (keys = field names), no trailing newline.
  std::string to_json() const;
};

/// Every usable GPU, or the reason there is none.
struct DeviceQuery {
  std::vector<DeviceReport> devices;  ///< empty when there is no usable GPU
  std::string unavailable_reason;     ///< set iff devices is empty, e.g. "CUDA driver version is
                                      ///< insufficient..."
};

/// Enumerates the GPUs. A missing or too old driver, or no device, is a normal answer
/// (unavailable_reason); a failure after a device was found throws qla::ApiError.
DeviceQuery query_devices();

/// The report of device `ordinal` (must exist). Throws qla::ApiError when a CUDA call fails.
DeviceReport query_device(int ordinal);

/// "X.Y" from a CUDA version number such as 12040.
std::string cuda_version_string(int version);

}  // namespace qla::tuner
