#include "qla/tuner/suites.hpp"

#include <utility>

#include "qla/error.hpp"
#include "qla/tuner/shape_matrix.hpp"

namespace qla::tuner {

gdn::Problem packed_problem(const std::vector<std::int64_t>& lengths, int h_qk, int h_v) {
  return forward_problem(Shape{HeadConfig{h_qk, h_v, "custom"}, SeqSet{"", lengths}});
}

std::vector<gdn::Problem> suite_problems(const std::string& name) {
  std::vector<gdn::Problem> out;
  if (name == "smoke") {
    out.push_back(packed_problem({4096}, 2, 8));
    out.push_back(packed_problem({2048, 2048}, 2, 8));
    out.push_back(packed_problem({8192}, 16, 32));
    return out;
  }
  // The benchmark matrix (shape_matrix.hpp), so tuned problems are exactly the ones the bench looks
  // up.
  std::vector<Shape> shapes;
  if (name == "qwen35-fwd") shapes = cross(forward_heads(), forward_seqs());
  if (name == "headline") shapes = cross(headline_heads(), headline_seqs());
  QLA_REQUIRE(!shapes.empty(),
              "--suite: unknown suite '" << name << "' (use smoke, headline or qwen35-fwd)");
  for (const Shape& s : shapes) out.push_back(forward_problem(s));
  return out;
}

}  // namespace qla::tuner
