// What the build-time generators (qla_aot_generate, qla_wgmma_generate) share: a generated file is
// read back whole and rewritten only when its text changes, so the build does not recompile what
// did not change.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace qla::tools {

/// The file's bytes, or "" when it cannot be read (absent).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

/// Writes `text` to `path` unless the file already holds exactly it; false when the write failed.
inline bool write_if_changed(const std::string& path, const std::string& text) {
  if (read_file(path) == text) return true;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace qla::tools
