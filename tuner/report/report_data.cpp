#include "report_data.hpp"

#include <algorithm>

namespace qla::report {

long long Shape::tokens() const {
  long long t = 0;
  for (long long s : seqlens) t += s;
  return t;
}

std::string Shape::seq_name() const {
  if (seqlens.empty()) return "0";
  // FlashQLA's names: "1x8192", "8192x4" for three or more equal sequences, "4096+4096" for two.
  if (seqlens.size() != 2 &&
      std::all_of(seqlens.begin(), seqlens.end(), [&](long long s) { return s == seqlens[0]; })) {
    return seqlens.size() == 1 ? "1x" + std::to_string(seqlens[0])
                               : std::to_string(seqlens[0]) + "x" + std::to_string(seqlens.size());
  }
  std::string n;
  for (std::size_t i = 0; i < seqlens.size(); ++i) n += (i ? "+" : "") + std::to_string(seqlens[i]);
  return n;
}

}  // namespace qla::report
