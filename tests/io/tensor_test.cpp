#include "qla/io/tensor.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "qla/error.hpp"
#include "temp_dir.hpp"

namespace qla {
namespace {

std::uint16_t bits16(const Tensor& t, std::int64_t i) {
  std::uint16_t b;
  std::memcpy(&b, t.data() + 2 * i, 2);
  return b;
}

TEST(Tensor, ShapeAndCounts) {
  Tensor t(DType::kBF16, {2, 3, 4});
  EXPECT_EQ(t.rank(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 48u);
  EXPECT_EQ(t.shape_string(), "[2, 3, 4]");
  EXPECT_EQ(t.index_string(0), "[0, 0, 0]");
  EXPECT_EQ(t.index_string(23), "[1, 2, 3]");
  EXPECT_EQ(t.index_string(13), "[1, 0, 1]");
  Tensor scalar;
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(Tensor(DType::kF32, {0, 5}).numel(), 0);
}

TEST(Tensor, NegativeExtentIsUserError) {
  test::expect_user_error([] { Tensor t(DType::kF32, {2, -1}); }, {"[2, -1]", "negative"});
}

TEST(Tensor, ValueCountMismatchIsUserError) {
  test::expect_user_error(
      [] {
        Tensor::from_doubles(DType::kF32, {2, 2}, {1.0, 2.0});
      },
      {"[2, 2]", "4"});
}

TEST(Tensor, Bf16RoundsToNearestEven) {
  const double one = 1.0;
  // 1 + 2^-8 is halfway between bf16 1.0 (0x3F80) and 1 + 2^-7 (0x3F81): ties go to the even
  // mantissa.
  const Tensor t =
      Tensor::from_doubles(DType::kBF16, {5},
                           {one, one + std::ldexp(1.0, -8), one + 3 * std::ldexp(1.0, -8),
                            one + std::ldexp(1.0, -8) + std::ldexp(1.0, -20), -2.0});
  EXPECT_EQ(bits16(t, 0), 0x3F80);
  EXPECT_EQ(bits16(t, 1), 0x3F80);  // tie → even (down)
  EXPECT_EQ(bits16(t, 2), 0x3F82);  // tie → even (up)
  EXPECT_EQ(bits16(t, 3), 0x3F81);  // above the tie → up
  EXPECT_EQ(bits16(t, 4), 0xC000);
  EXPECT_EQ(t.get(2), 1.0 + std::ldexp(1.0, -6));
}

TEST(Tensor, F16RoundsToNearestEvenAndOverflowsToInf) {
  const Tensor t = Tensor::from_doubles(
      DType::kF16, {4}, {1.0 + std::ldexp(1.0, -11), 1.0 + 3 * std::ldexp(1.0, -11), 70000.0, 0.5});
  EXPECT_EQ(bits16(t, 0), 0x3C00);
  EXPECT_EQ(bits16(t, 1), 0x3C02);
  EXPECT_EQ(bits16(t, 2), 0x7C00);
  EXPECT_EQ(bits16(t, 3), 0x3800);
  EXPECT_TRUE(std::isinf(t.get(2)));
}

TEST(Tensor, ExactTypesRoundTrip) {
  const std::vector<double> v = {0.0, -1.5, 3.0e10, 1.0 / 3.0, -7.0};
  EXPECT_EQ(Tensor::from_doubles(DType::kF64, {5}, v).to_doubles(), v);
  const auto f = Tensor::from_doubles(DType::kF32, {5}, v).to_doubles();
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(f[i], double(float(v[i])));
  const std::vector<double> ints = {0, -5, 2147483647.0, -2147483648.0, 12};
  EXPECT_EQ(Tensor::from_doubles(DType::kI32, {5}, ints).to_doubles(), ints);
  const std::vector<double> big = {0, double(std::int64_t{1} << 52), -3};
  EXPECT_EQ(Tensor::from_doubles(DType::kI64, {3}, big).to_doubles(), big);
}

TEST(Tensor, FromFloatsMatchesFromDoubles) {
  const std::vector<float> f = {1.00390625f, -0.3f, 65504.0f, 1e-8f};
  for (DType d : {DType::kBF16, DType::kF16, DType::kF32}) {
    const std::vector<double> as_d(f.begin(), f.end());
    EXPECT_EQ(Tensor::from_floats(d, {4}, f), Tensor::from_doubles(d, {4}, as_d)) << dtype_name(d);
  }
  const auto back = Tensor::from_floats(DType::kF32, {4}, f).to_floats();
  EXPECT_EQ(back, f);
}

TEST(Tensor, EqualityLooksAtDtypeShapeAndBytes) {
  const Tensor a = Tensor::from_doubles(DType::kF32, {2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(a, Tensor::from_doubles(DType::kF32, {2, 2}, {1, 2, 3, 4}));
  EXPECT_NE(a, Tensor::from_doubles(DType::kF32, {4}, {1, 2, 3, 4}));
  EXPECT_NE(a, Tensor::from_doubles(DType::kF64, {2, 2}, {1, 2, 3, 4}));
  EXPECT_NE(a, Tensor::from_doubles(DType::kF32, {2, 2}, {1, 2, 3, 5}));
}

}  // namespace
}  // namespace qla
