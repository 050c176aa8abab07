// What every benchmark reports: elapsed times, quantiles, a sample's summary.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace labrt::bench {

using clock_type = std::chrono::steady_clock;

inline double us_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0)
    .count();
}

inline double ms_since(clock_type::time_point t0) {
  return us_since(t0) / 1e3;
}

/// The q-quantile of sorted, non-empty `xs`: the nearest rank at or below.
inline double at_rank(const std::vector<double>& xs, double q) {
  return xs[static_cast<size_t>(q * static_cast<double>(xs.size() - 1))];
}

/// The q-quantile of `xs`, 0 when empty.
inline double quantile(std::vector<double> xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return at_rank(xs, q);
}

/// A sample's median, 99th percentile, maximum and size.
struct summary {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
  size_t n = 0;
};

inline summary summarize(std::vector<double> xs) {
  if (xs.empty())
    return {};
  std::sort(xs.begin(), xs.end());
  return {at_rank(xs, 0.50), at_rank(xs, 0.99), xs.back(), xs.size()};
}

} // namespace labrt::bench
