#include "qla/tuner/fingerprint.hpp"

#include <cctype>
#include <cstdio>

#include "qla/error.hpp"
#include "qla/hash.hpp"
#include "qla/tuner/device_report.hpp"

namespace qla::tuner {

std::string DeviceFingerprint::digest() const {
  Fnv1a h;
  h.field(name);
  for (std::int64_t v :
       {std::int64_t{cc_major}, std::int64_t{cc_minor}, std::int64_t{sm_count}, l2_bytes,
        std::int64_t{mem_clock_khz}, std::int64_t{mem_bus_bits}, std::int64_t{driver_version},
        std::int64_t{runtime_version}, std::int64_t{nvrtc_version}})
    h.field(std::to_string(v));
  return hex64(h.value());
}

std::string DeviceFingerprint::describe() const {
  return name + " (sm_" + std::to_string(cc_major) + std::to_string(cc_minor) + ", " +
         std::to_string(sm_count) + " SMs)";
}

std::string DeviceFingerprint::slug() const {
  std::string s;
  for (unsigned char c : name) {
    if (std::isalnum(c))
      s += static_cast<char>(std::tolower(c));
    else if (!s.empty() && s.back() != '-')
      s += '-';
  }
  while (!s.empty() && s.back() == '-') s.pop_back();
  return s.empty() ? "gpu" : s;
}

DeviceFingerprint read_fingerprint(int device) {
  // One reader of the device facts: the query `qla devices` prints; the store keeps its comparison
  // subset.
  const DeviceQuery q = query_devices();
  if (q.devices.empty()) throw UserError("no CUDA GPU: " + q.unavailable_reason);
  if (device < 0 || device >= static_cast<int>(q.devices.size()))
    throw UserError("--device: " + std::to_string(device) + " is out of range (" +
                    std::to_string(q.devices.size()) + " device(s))");
  return fingerprint_of(q.devices[static_cast<std::size_t>(device)]);
}

DeviceFingerprint fingerprint_of(const DeviceReport& d) {
  DeviceFingerprint f;
  f.name = d.name;
  f.cc_major = d.cc_major;
  f.cc_minor = d.cc_minor;
  f.sm_count = d.sm_count;
  f.l2_bytes = d.l2_bytes;
  f.mem_clock_khz = d.mem_clock_khz;
  f.mem_bus_bits = d.mem_bus_bits;
  f.driver_version = d.driver_version;
  f.runtime_version = d.runtime_version;
  f.nvrtc_version = d.nvrtc_major * 1000 + d.nvrtc_minor * 10;
  return f;
}

}  // namespace qla::tuner
