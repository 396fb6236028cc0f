#include "qla/tuner/suites.hpp"

#include <utility>

#include "qla/error.hpp"

namespace qla::tuner {

gdn::Problem packed_problem(const std::vector<std::int64_t>& lengths, int h_qk, int h_v) {
  gdn::Problem p;
  p.batch = 1;
  p.cu_seqlens = {0};
  for (std::int64_t l : lengths) p.cu_seqlens.push_back(p.cu_seqlens.back() + l);
  p.tokens = p.cu_seqlens.back();
  p.h_qk = h_qk;
  p.h_v = h_v;
  p.k_dim = 128;
  p.v_dim = 128;
  p.qkv_dtype = DType::kBF16;
  p.gate_dtype = DType::kF32;
  p.beta_dtype = DType::kF32;
  p.initial_state = true;
  p.final_state = true;
  p.validate();
  return p;
}

std::vector<gdn::Problem> suite_problems(const std::string& name) {
  std::vector<gdn::Problem> out;
  if (name == "smoke") {
    out.push_back(packed_problem({4096}, 2, 8));
    out.push_back(packed_problem({2048, 2048}, 2, 8));
    out.push_back(packed_problem({8192}, 16, 32));
    return out;
  }
  if (name == "qwen35-fwd") {
    const std::vector<std::pair<int, int>> heads = {{2, 8},   {4, 16},  {8, 32},  {16, 64}, {16, 32},
                                                    {8, 24},  {16, 48}, {16, 16}, {32, 32}};
    const std::vector<std::vector<std::int64_t>> seqs = {
        {32768}, {16384}, {8192}, {4096}, {2048},
        {28672, 4096}, {24576, 8192}, {16384, 16384}, {8192, 24576}, {4096, 28672},
        {12288, 4096}, {6144, 2048}, {4096, 4096}, {2048, 6144}, {1024, 7168},
        {8192, 8192, 8192, 8192}, std::vector<std::int64_t>(8, 4096), {2048, 2048, 2048, 2048},
        std::vector<std::int64_t>(8, 1024)};
    for (const auto& [hqk, hv] : heads)
      for (const auto& s : seqs) out.push_back(packed_problem(s, hqk, hv));
    return out;
  }
  throw UserError("--suite: unknown suite '" + name + "' (use smoke or qwen35-fwd)");
}

}  // namespace qla::tuner
