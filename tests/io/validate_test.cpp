// Every way loaded inputs can be wrong produces one UserError naming the tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "qla/error.hpp"
#include "qla/io/generate.hpp"
#include "temp_dir.hpp"

namespace qla::gdn {
namespace {

using test::expect_user_error;

Problem varlen_problem() {
  Problem p;
  p.tokens = 40;
  p.cu_seqlens = {0, 10, 25, 40};
  p.h_qk = 1;
  p.h_v = 2;
  p.k_dim = p.v_dim = 8;
  p.initial_state = true;
  return p;
}

TEST(Validate, GeneratedInputsPass) {
  const Problem p = varlen_problem();
  GenerateOptions o;
  o.backward = true;
  EXPECT_NO_THROW(validate_inputs(p, generate_inputs(p, o)));
}

TEST(Validate, WrongShapeRankDtype) {
  const Problem p = varlen_problem();
  ProblemTensors t = generate_inputs(p, {});
  ProblemTensors bad = t;
  bad.q = Tensor(DType::kBF16, {1, 40, 1, 16});
  expect_user_error([&] { validate_inputs(p, bad); },
                    {"q", "wrong shape", "[1, 40, 1, 8]", "[1, 40, 1, 16]"});
  bad = t;
  bad.v = Tensor(DType::kBF16, {40, 2, 8});
  expect_user_error([&] { validate_inputs(p, bad); }, {"v", "wrong rank"});
  bad = t;
  bad.g = Tensor(DType::kBF16, {1, 40, 2});
  expect_user_error([&] { validate_inputs(p, bad); }, {"g", "wrong dtype", "f32", "bf16"});
  bad = t;
  bad.h0 = Tensor(DType::kI32, {3, 2, 8, 8});
  expect_user_error([&] { validate_inputs(p, bad); }, {"h0", "wrong dtype"});
  bad = t;
  bad.h0.reset();
  expect_user_error([&] { validate_inputs(p, bad); }, {"h0"});
  bad = t;
  bad.d_o = Tensor(DType::kBF16, {1, 40, 2, 7});
  expect_user_error([&] { validate_inputs(p, bad); }, {"do", "wrong shape"});
  bad = t;
  bad.dht = Tensor(DType::kF32, {2, 2, 8, 8});
  expect_user_error([&] { validate_inputs(p, bad); }, {"dht", "wrong shape"});
}

TEST(Validate, HeadRatio) {
  Problem p = varlen_problem();
  const ProblemTensors t = generate_inputs(p, {});
  p.h_qk = 3;
  p.h_v = 4;
  expect_user_error([&] { validate_inputs(p, t); }, {"h_v", "multiple of h_qk"});
}

TEST(Validate, CuSeqlensRules) {
  expect_user_error([] { validate_cu_seqlens({1, 10, 40}, 40); }, {"cu_seqlens", "start at 0"});
  expect_user_error(
      [] {
        validate_cu_seqlens({0, 20, 10, 40}, 40);
      },
      {"cu_seqlens", "non-decreasing", "entry 2"});
  expect_user_error(
      [] {
        validate_cu_seqlens({0, 10, 30}, 40);
      },
      {"cu_seqlens", "end at", "40", "30"});
  expect_user_error(
      [] {
        validate_cu_seqlens({0, 10, 50}, 40, {true});
      },
      {"cu_seqlens", "exceeds"});
  expect_user_error([] { validate_cu_seqlens({0}, 40); }, {"cu_seqlens", "at least 2"});
  EXPECT_NO_THROW(validate_cu_seqlens({0, 10, 30}, 40, {true}));  // padding allowed explicitly
  EXPECT_NO_THROW(validate_cu_seqlens({0, 0, 40, 40}, 40));       // empty sequences are fine

  expect_user_error([] { cu_seqlens_values(Tensor(DType::kF32, {3})); },
                    {"cu_seqlens", "i32 or i64"});
  expect_user_error([] { cu_seqlens_values(Tensor(DType::kI32, {3, 1})); }, {"cu_seqlens", "rank"});

  // Through validate_inputs: padding needs the flag; the tensor must agree with the problem.
  Problem p = varlen_problem();
  p.tokens = 48;
  const ProblemTensors t = generate_inputs(p, {});
  expect_user_error([&] { validate_inputs(p, t); }, {"cu_seqlens", "end at"});
  EXPECT_NO_THROW(validate_inputs(p, t, {true}));
  ProblemTensors other = t;
  other.cu_seqlens = Tensor::from_doubles(DType::kI32, {4}, {0, 11, 25, 40});
  expect_user_error([&] { validate_inputs(p, other, {true}); }, {"cu_seqlens", "differ"});
}

TEST(Validate, NanAndInfNameTheFirstBadIndex) {
  const Problem p = varlen_problem();
  GenerateOptions o;
  o.backward = true;
  const ProblemTensors t = generate_inputs(p, o);
  ProblemTensors bad = t;
  bad.k.set(3 * 8 + 5, std::numeric_limits<double>::quiet_NaN());  // token 3, head 0, dim 5
  bad.k.set(7 * 8 + 1, std::numeric_limits<double>::quiet_NaN());
  expect_user_error([&] { validate_inputs(p, bad); }, {"k", "[0, 3, 0, 5]", "NaN"});
  bad = t;
  bad.beta.set(2 * 2 + 1, std::numeric_limits<double>::infinity());
  expect_user_error([&] { validate_inputs(p, bad); }, {"beta", "[0, 2, 1]", "+Inf"});
  bad = t;
  bad.h0->set(0, -std::numeric_limits<double>::infinity());
  expect_user_error([&] { validate_inputs(p, bad); }, {"h0", "[0, 0, 0, 0]", "-Inf"});
  bad = t;
  bad.g.set(5, std::numeric_limits<double>::quiet_NaN());
  expect_user_error([&] { validate_inputs(p, bad); }, {"g", "NaN"});
  bad = t;
  bad.d_o->set(9, std::numeric_limits<double>::quiet_NaN());
  expect_user_error([&] { validate_inputs(p, bad); }, {"do", "NaN"});
}

}  // namespace
}  // namespace qla::gdn
