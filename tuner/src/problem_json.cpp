#include "qla/tuner/problem_json.hpp"

#include <sstream>

#include "qla/error.hpp"

namespace qla::tuner {
namespace {

template <typename T>
T field(const nlohmann::json& j, const char* name) {
  if (!j.is_object() || !j.contains(name)) throw UserError(std::string("problem JSON: missing field '") + name + "'");
  try {
    return j.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw UserError(std::string("problem JSON: field '") + name + "' has the wrong type");
  }
}

DType dtype_field(const nlohmann::json& j, const char* name) {
  const auto text = field<std::string>(j, name);
  const auto t = parse_dtype(text);
  if (!t) throw UserError(std::string("problem JSON: field '") + name + "' is not a dtype: '" + text + "'");
  return *t;
}

std::int64_t parse_count(const std::string& text, const std::string& whole) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v <= 0)
    throw UserError("--problem: '" + whole + "' is not of the form T, BxT or L1+L2+... followed by @HQKxHV");
  return v;
}

}  // namespace

nlohmann::json problem_to_json(const gdn::Problem& p) {
  nlohmann::json j = {{"batch", p.batch},
                      {"tokens", p.tokens},
                      {"cu_seqlens", p.cu_seqlens},
                      {"h_qk", p.h_qk},
                      {"h_v", p.h_v},
                      {"k_dim", p.k_dim},
                      {"v_dim", p.v_dim},
                      {"qkv_dtype", std::string(dtype_name(p.qkv_dtype))},
                      {"gate_dtype", std::string(dtype_name(p.gate_dtype))},
                      {"beta_dtype", std::string(dtype_name(p.beta_dtype))},
                      {"initial_state", p.initial_state},
                      {"final_state", p.final_state},
                      {"l2norm_qk", p.l2norm_qk}};
  if (p.scale) j["scale"] = *p.scale;
  return j;
}

gdn::Problem problem_from_json(const nlohmann::json& j) {
  gdn::Problem p;
  p.batch = field<std::int64_t>(j, "batch");
  p.tokens = field<std::int64_t>(j, "tokens");
  p.cu_seqlens = field<std::vector<std::int64_t>>(j, "cu_seqlens");
  p.h_qk = field<int>(j, "h_qk");
  p.h_v = field<int>(j, "h_v");
  p.k_dim = field<int>(j, "k_dim");
  p.v_dim = field<int>(j, "v_dim");
  p.qkv_dtype = dtype_field(j, "qkv_dtype");
  p.gate_dtype = dtype_field(j, "gate_dtype");
  p.beta_dtype = dtype_field(j, "beta_dtype");
  p.initial_state = field<bool>(j, "initial_state");
  p.final_state = field<bool>(j, "final_state");
  p.l2norm_qk = field<bool>(j, "l2norm_qk");
  if (j.contains("scale")) p.scale = field<double>(j, "scale");
  p.validate();
  return p;
}

std::string problem_key(const gdn::Problem& p) {
  std::ostringstream os;
  os << p.label();
  if (p.initial_state) os << ".h0";
  if (p.l2norm_qk) os << ".l2";
  if (p.is_varlen()) {
    os << ':';
    for (std::int64_t n = 0; n < p.num_sequences(); ++n) os << (n ? "," : "") << p.seq_length(n);
  }
  return os.str();
}

gdn::Problem parse_problem_spec(const std::string& text) {
  const auto at = text.find('@');
  const auto x = at == std::string::npos ? std::string::npos : text.find('x', at);
  if (at == std::string::npos || x == std::string::npos)
    throw UserError("--problem: '" + text + "' lacks the heads, e.g. '1x32768@2x8' or '28672+4096@16x32'");
  gdn::Problem p;
  p.h_qk = static_cast<int>(parse_count(text.substr(at + 1, x - at - 1), text));
  p.h_v = static_cast<int>(parse_count(text.substr(x + 1), text));
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
