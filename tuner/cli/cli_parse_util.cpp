#include "cli_parse_util.hpp"

#include <cctype>

#include "qla/error.hpp"

namespace qla::cli {
namespace {

int parse_count(const std::string& s, const std::string& whole) {
  QLA_REQUIRE(!s.empty() && s.size() <= 6 && std::isdigit(static_cast<unsigned char>(s[0])) &&
                  s.find_first_not_of("0123456789") == std::string::npos,
              "--heads: expected H_qk x H_v such as 2x8, got \"" << whole << "\"");
  const int v = std::stoi(s);
  QLA_REQUIRE(v >= 1, "--heads: head counts must be >= 1, got \"" << whole << "\"");
  return v;
}

}  // namespace

std::pair<int, int> parse_heads(const std::string& text) {
  const std::size_t x = text.find_first_of("xX");
  if (x == std::string::npos) {
    const int h = parse_count(text, text);
    return {h, h};
  }
  return {parse_count(text.substr(0, x), text), parse_count(text.substr(x + 1), text)};
}

DType parse_dtype_flag(const std::string& flag, const std::string& text) {
  const auto d = parse_dtype(text);
  QLA_REQUIRE(d.has_value(),
              flag << ": unknown dtype \"" << text << "\" (f32, f16, bf16, f64, i32, i64)");
  return *d;
}

}  // namespace qla::cli
