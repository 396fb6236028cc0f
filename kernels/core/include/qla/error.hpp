// Errors shared by every layer of qla. Plain C++17: no CUDA, no SQLite.
//
//  * UserError: bad shapes, bad files, bad flags. One clear message; `main` prints it and exits
//  with 2.
//  * ApiError: a CUDA / CUPTI / NVRTC / SQLite call failed. Carries file, line, the call text and
//  the API's
//    message. Raised through QLA_CHECK-style macros that each API layer defines on top of
//    `raise_api_error`.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace qla {

/// An error in what the user gave us (arguments, files, shapes). Exit code 2.
class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& what) : std::runtime_error(what) {}
};

/// A failed library or driver call. Carries where it happened and what the API said.
class ApiError : public std::runtime_error {
 public:
  ApiError(std::string api, const std::string& what)
      : std::runtime_error(what), api_(std::move(api)) {}
  const std::string& api() const noexcept { return api_; }

 private:
  std::string api_;
};

[[noreturn]] inline void raise_api_error(const char* api, const char* file, int line,
                                         const char* call, const std::string& message) {
  std::ostringstream os;
  os << file << ':' << line << ": " << api << " call `" << call << "` failed: " << message;
  throw ApiError(api, os.str());
}

/// Throws UserError with the streamed message when `cond` is false.
#define QLA_REQUIRE(cond, msg)                       \
  do {                                               \
    if (!(cond)) {                                   \
      std::ostringstream qla_require_os_;            \
      qla_require_os_ << msg;                        \
      throw ::qla::UserError(qla_require_os_.str()); \
    }                                                \
  } while (0)

}  // namespace qla
