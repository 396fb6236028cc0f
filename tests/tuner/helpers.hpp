// Shared by the tuner tests: temporary directories, a fake device, problems, and running this test
// binary as a child process.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "qla/gdn/problem.hpp"
#include "qla/tuner/fingerprint.hpp"

namespace qla::tuner::test {

/// A fresh, empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// A made-up H100-like device; `variant` changes the driver version (a different fingerprint).
DeviceFingerprint fake_device(int variant = 0);

/// Packed varlen problem of the given sequence lengths, heads (2, 8), K = V = 128, bf16, h0.
gdn::Problem varlen_problem(const std::vector<std::int64_t>& lengths, int h_qk = 2, int h_v = 8);

/// Runs this test executable with `args`, returns its exit status (as waitpid reports it).
int run_self(const std::vector<std::string>& args);
/// Starts this test executable with `args`, returns its pid.
int spawn_self(const std::vector<std::string>& args);
/// Reads the whole file.
std::string slurp(const std::string& path);

}  // namespace qla::tuner::test
