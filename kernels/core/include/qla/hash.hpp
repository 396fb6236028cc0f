// FNV-1a, 64-bit: the project's one hash (kernel source identities, the compile cache's keys,
// device digests, configuration-space hashes). Stable across hosts and runs: the tuning store keys
// rows by these values, so a change to how anything is mixed in is a change to every stored
// identity.
//
// The offset basis is 1469598103934665603 (0x14650fb0739d0383), not FNV's published
// 14695981039346656037 (0xcbf29ce484222325): the project's first hash dropped a digit, and every
// stored identity and cache key since depends on it. The prime is FNV's. Keep both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qla {

class Fnv1a {
 public:
  /// Mixes `n` bytes.
  Fnv1a& bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * kPrime;
    return *this;
  }
  /// Mixes the characters of `s`, then the separator byte 0xff (so field boundaries matter).
  Fnv1a& field(std::string_view s) {
    bytes(s.data(), s.size());
    h_ = (h_ ^ 0xffu) * kPrime;
    return *this;
  }
  /// Mixes the 8 bytes of `v`, least significant first.
  Fnv1a& u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) h_ = (h_ ^ ((v >> (8 * i)) & 0xffu)) * kPrime;
    return *this;
  }
  std::uint64_t value() const { return h_; }

 private:
  static constexpr std::uint64_t kPrime = 1099511628211ull;
  std::uint64_t h_ = 1469598103934665603ull;  // see the header comment: not FNV's basis
};

/// `v` as 16 lowercase hex digits.
std::string hex64(std::uint64_t v);

}  // namespace qla
