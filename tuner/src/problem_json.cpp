#include "qla/tuner/problem_json.hpp"

#include <sstream>

#include "qla/error.hpp"
#include "qla/io/problem_files.hpp"

namespace qla::tuner {
namespace {

std::int64_t parse_count(const std::string& text, const std::string& whole) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v <= 0)
    throw UserError("--problem: '" + whole +
                    "' is not of the form T, BxT or L1+L2+... followed by @HQKxHV");
  return v;
}

}  // namespace

// One JSON form of a problem in the project: problem.json's (reference/io), parsed into an object
// here.
nlohmann::json problem_to_json(const gdn::Problem& p) {
  return nlohmann::json::parse(gdn::problem_to_json(p));
}

gdn::Problem problem_from_json(const nlohmann::json& j) {
  gdn::Problem p = gdn::problem_from_json(j.dump(), "problem");
  p.validate();
  return p;
}

std::string problem_key(const gdn::Problem& p) { return p.key(); }

gdn::Problem parse_problem_spec(const std::string& text) {
  const auto at = text.find('@');
  const auto x = at == std::string::npos ? std::string::npos : text.find('x', at);
  if (at == std::string::npos || x == std::string::npos)
    throw UserError("--problem: '" + text +
                    "' lacks the heads, e.g. '1x32768@2x8' or '28672+4096@16x32'");
  gdn::Problem p;
  // Head counts are ints: larger values are refused, never truncated.
  const auto heads = [&](const std::string& part) {
    const std::int64_t n = parse_count(part, text);
    if (n > 65536)
      throw UserError("--problem: '" + text + "': " + std::to_string(n) +
                      " heads is more than 65536");
    return static_cast<int>(n);
  };
  p.h_qk = heads(text.substr(at + 1, x - at - 1));
  p.h_v = heads(text.substr(x + 1));
  p.initial_state = true;
  p.final_state = true;
  const std::string seqs = text.substr(0, at);
  if (seqs.find('+') != std::string::npos) {
    p.batch = 1;
    p.cu_seqlens = {0};
    std::size_t pos = 0;
    for (;;) {
      const std::size_t plus = seqs.find('+', pos);
      p.cu_seqlens.push_back(p.cu_seqlens.back() + parse_count(seqs.substr(pos, plus - pos), text));
      if (plus == std::string::npos) break;
      pos = plus + 1;
    }
    p.tokens = p.cu_seqlens.back();
  } else if (const auto bx = seqs.find('x'); bx != std::string::npos) {
    p.batch = parse_count(seqs.substr(0, bx), text);
    p.tokens = parse_count(seqs.substr(bx + 1), text);
  } else {
    p.tokens = parse_count(seqs, text);
  }
  p.validate();
  return p;
}

}  // namespace qla::tuner
