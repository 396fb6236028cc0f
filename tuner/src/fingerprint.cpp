#include "qla/tuner/fingerprint.hpp"

#include <cctype>
#include <cstdio>

#include <cuda_runtime.h>
#include <nvrtc.h>

#include "qla/error.hpp"

namespace qla::tuner {

std::string DeviceFingerprint::digest() const {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;  // field separator
  };
  mix(name);
  for (std::int64_t v : {std::int64_t{cc_major}, std::int64_t{cc_minor}, std::int64_t{sm_count}, l2_bytes,
                         std::int64_t{mem_clock_khz}, std::int64_t{mem_bus_bits}, std::int64_t{driver_version},
                         std::int64_t{runtime_version}, std::int64_t{nvrtc_version}})
    mix(std::to_string(v));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string DeviceFingerprint::describe() const {
  return name + " (sm_" + std::to_string(cc_major) + std::to_string(cc_minor) + ", " + std::to_string(sm_count) +
         " SMs)";
}

std::string DeviceFingerprint::slug() const {
  std::string s;
  for (unsigned char c : name) {
    if (std::isalnum(c)) s += static_cast<char>(std::tolower(c));
    else if (!s.empty() && s.back() != '-') s += '-';
  }
  while (!s.empty() && s.back() == '-') s.pop_back();
  return s.empty() ? "gpu" : s;
}

DeviceFingerprint read_fingerprint(int device) {
  int count = 0;
  if (const cudaError_t err = cudaGetDeviceCount(&count); err != cudaSuccess) {
    cudaGetLastError();
    throw UserError(std::string("no CUDA GPU: ") + cudaGetErrorString(err));
  }
  if (count == 0) throw UserError("no CUDA GPU: no device found");
  if (device < 0 || device >= count)
    throw UserError("--device: " + std::to_string(device) + " is out of range (" + std::to_string(count) +
                    " device(s))");
  cudaDeviceProp prop{};
  if (const cudaError_t err = cudaGetDeviceProperties(&prop, device); err != cudaSuccess)
    throw UserError(std::string("no CUDA GPU: ") + cudaGetErrorString(err));
  DeviceFingerprint fp;
  fp.name = prop.name;
  fp.cc_major = prop.major;
  fp.cc_minor = prop.minor;
  fp.sm_count = prop.multiProcessorCount;
  fp.l2_bytes = prop.l2CacheSize;
  cudaDeviceGetAttribute(&fp.mem_clock_khz, cudaDevAttrMemoryClockRate, device);
  cudaDeviceGetAttribute(&fp.mem_bus_bits, cudaDevAttrGlobalMemoryBusWidth, device);
  cudaDriverGetVersion(&fp.driver_version);
  cudaRuntimeGetVersion(&fp.runtime_version);
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) == NVRTC_SUCCESS) fp.nvrtc_version = major * 1000 + minor * 10;
  return fp;
}

}  // namespace qla::tuner
