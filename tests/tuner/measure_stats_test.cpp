#include <gtest/gtest.h>

#include <random>

#include "qla/tuner/measure.hpp"

namespace qla::tuner {
namespace {

TEST(MeasureStats, SummaryAndNoise) {
  const TimeStats t = summarize({5, 1, 3, 2, 4});
  EXPECT_DOUBLE_EQ(t.median_us, 3);
  EXPECT_DOUBLE_EQ(t.min_us, 1);
  EXPECT_DOUBLE_EQ(t.max_us, 5);
  EXPECT_EQ(t.samples, 5);
  EXPECT_GT(t.noise, 0);
  EXPECT_DOUBLE_EQ(median_noise(std::vector<double>(20, 7.0)), 0);
}

TEST(MeasureStats, NoiseShrinksWithMoreSamples) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> n(100, 2);
  std::vector<double> s;
  for (int i = 0; i < 400; ++i) s.push_back(n(rng));
  const double few = median_noise({s.begin(), s.begin() + 20});
  const double many = median_noise(s);
  EXPECT_LT(many, few);
  EXPECT_NEAR(many, 1.96 * 1.2533 * 2 / std::sqrt(400.0) / 100, 0.002);  // ≈ normal theory
}

TEST(MeasureStats, StopsAtMinSamplesWhenQuiet_AndWhenNoiseStopsImproving) {
  std::vector<double> quiet(9, 10.0);
  EXPECT_FALSE(enough_samples(quiet, 10, 0.01));  // fewer than the minimum
  quiet.push_back(10.0);
  EXPECT_TRUE(enough_samples(quiet, 10, 0.01));
  // Bimodal noise that never tightens below 1 %: sampling stops once more samples no longer help.
  std::vector<double> noisy;
  bool stopped = false;
  for (int i = 0; i < 1000 && !stopped; ++i) {
    noisy.push_back(i % 2 ? 10.0 : 12.0);
    stopped = enough_samples(noisy, 10, 0.01);
  }
  EXPECT_TRUE(stopped);
  EXPECT_LT(noisy.size(), 100u);
}

}  // namespace
}  // namespace qla::tuner
