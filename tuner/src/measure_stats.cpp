#include <algorithm>
#include <cmath>

#include "qla/tuner/measure.hpp"

namespace qla::tuner {
namespace {

double median_sorted(const std::vector<double>& s) {
  const std::size_t m = s.size() / 2;
  return s.size() % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

}  // namespace

double median_noise(std::vector<double> samples) {
  if (samples.size() < 2) return 0;
  std::sort(samples.begin(), samples.end());
  const double n = static_cast<double>(samples.size());
  const double half = 0.98 * std::sqrt(n);  // 1.96 σ of Binomial(n, 1/2), in order-statistic ranks
  const auto lo = static_cast<std::size_t>(std::max(0.0, std::floor(n / 2 - half)));
  const auto hi = static_cast<std::size_t>(std::min(n - 1, std::ceil(n / 2 + half - 1)));
  const double med = median_sorted(samples);
  return med > 0 ? 0.5 * (samples[hi] - samples[lo]) / med : 0;
}

TimeStats summarize(std::vector<double> samples) {
  TimeStats t;
  if (samples.empty()) return t;
  std::sort(samples.begin(), samples.end());
  t.median_us = median_sorted(samples);
  t.min_us = samples.front();
  t.max_us = samples.back();
  t.samples = static_cast<int>(samples.size());
  t.noise = median_noise(samples);
  return t;
}

bool enough_samples(const std::vector<double>& samples, int min_samples, double target_noise) {
  if (static_cast<int>(samples.size()) < std::max(min_samples, 2)) return false;
  const double now = median_noise(samples);
  if (now < target_noise) return true;
  constexpr std::size_t kWindow = 10;
  if (samples.size() < static_cast<std::size_t>(min_samples) + kWindow) return false;
  const double before =
      median_noise({samples.begin(), samples.end() - static_cast<std::ptrdiff_t>(kWindow)});
  return now >=
         0.98 * before;  // more samples no longer tighten the median: further sampling is wasted
}

}  // namespace qla::tuner
