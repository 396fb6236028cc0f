#include "qla/tuner/device_report.hpp"

#include <cuda_runtime_api.h>
#include <nvrtc.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qla/cuda/check.hpp"

namespace qla::tuner {

double DeviceReport::peak_bandwidth_gbs() const {
  return 2.0 * double(mem_clock_khz) * 1e3 * double(mem_bus_bits) / 8.0 / 1e9;
}

std::string cuda_version_string(int version) {
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

std::string DeviceReport::describe() const {
  std::ostringstream os;
  os << ordinal << ": " << name << ", sm_" << cc_major << cc_minor << ", " << sm_count
     << " SMs, L2 " << l2_bytes / (1024 * 1024) << " MiB, "
     << memory_bytes / (std::int64_t{1} << 30) << " GiB, mem " << mem_clock_khz / 1000 << " MHz x "
     << mem_bus_bits << " bit (" << static_cast<long>(peak_bandwidth_gbs()) << " GB/s), SM "
     << sm_clock_khz / 1000 << " MHz, driver " << cuda_version_string(driver_version)
     << ", runtime " << cuda_version_string(runtime_version) << ", NVRTC " << nvrtc_major << '.'
     << nvrtc_minor;
  return os.str();
}

std::string DeviceReport::to_json() const {
  const nlohmann::json j = {
      {"ordinal", ordinal},
      {"name", name},
      {"uuid", uuid},
      {"cc_major", cc_major},
      {"cc_minor", cc_minor},
      {"sm_count", sm_count},
      {"l2_bytes", l2_bytes},
      {"memory_bytes", memory_bytes},
      {"sm_clock_khz", sm_clock_khz},
      {"mem_clock_khz", mem_clock_khz},
      {"mem_bus_bits", mem_bus_bits},
      {"peak_bandwidth_gbs", peak_bandwidth_gbs()},
      {"driver_version", driver_version},
      {"runtime_version", runtime_version},
      {"nvrtc_version", std::to_string(nvrtc_major) + "." + std::to_string(nvrtc_minor)}};
  return j.dump();
}

namespace {

std::string uuid_string(const cudaUUID_t& u) {
  std::string s = "GPU-";
  char buf[3];
  for (int i = 0; i < 16; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned char>(u.bytes[i]));
    s += buf;
    if (i == 3 || i == 5 || i == 7 || i == 9) s += '-';
  }
  return s;
}

int attribute(cudaDeviceAttr attr, int ordinal) {
  int v = 0;
  QLA_CUDA_CHECK(cudaDeviceGetAttribute(&v, attr, ordinal));
  return v;
}

}  // namespace

DeviceReport query_device(int ordinal) {
  DeviceReport f;
  f.ordinal = ordinal;
  cudaDeviceProp prop{};
  QLA_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
  f.name = prop.name;
  f.uuid = uuid_string(prop.uuid);
  f.memory_bytes = static_cast<std::int64_t>(prop.totalGlobalMem);
  // Clock fields left cudaDeviceProp in CUDA 13; the attributes remain.
  f.cc_major = attribute(cudaDevAttrComputeCapabilityMajor, ordinal);
  f.cc_minor = attribute(cudaDevAttrComputeCapabilityMinor, ordinal);
  f.sm_count = attribute(cudaDevAttrMultiProcessorCount, ordinal);
  f.l2_bytes = attribute(cudaDevAttrL2CacheSize, ordinal);
  f.sm_clock_khz = attribute(cudaDevAttrClockRate, ordinal);
  f.mem_clock_khz = attribute(cudaDevAttrMemoryClockRate, ordinal);
  f.mem_bus_bits = attribute(cudaDevAttrGlobalMemoryBusWidth, ordinal);
  QLA_CUDA_CHECK(cudaDriverGetVersion(&f.driver_version));
  QLA_CUDA_CHECK(cudaRuntimeGetVersion(&f.runtime_version));
  if (nvrtcVersion(&f.nvrtc_major, &f.nvrtc_minor) != NVRTC_SUCCESS)
    f.nvrtc_major = f.nvrtc_minor = 0;
  return f;
}

DeviceQuery query_devices() {
  DeviceQuery q;
  int n = 0;
  const cudaError_t rc = cudaGetDeviceCount(&n);
  if (rc != cudaSuccess) {
    // No driver, a driver older than the runtime, no device: all mean "no GPU here", not a failure
    // of qla.
    cudaGetLastError();
    q.unavailable_reason = std::string(cudaGetErrorString(rc)) + " (" + cudaGetErrorName(rc) + ")";
    return q;
  }
  if (n == 0) {
    q.unavailable_reason = "no CUDA device found";
    return q;
  }
  for (int i = 0; i < n; ++i) q.devices.push_back(query_device(i));
  return q;
}

}  // namespace qla::tuner
