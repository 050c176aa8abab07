// The metrics of the HTTP API and its runtime, in Prometheus text format.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace labrt {
class client;
} // namespace labrt

namespace labrt::http {

/// Counts and latency histograms per route, shared by the worker threads.
/// Atomics, not a lock: the routes are fixed when the server starts, so
/// every counter exists up front and a request only increments.
class request_metrics {
public:
  /// Upper bounds of the latency buckets, in seconds.
  static constexpr std::array<double, 12> bounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,   0.025,   0.05,   0.1,   0.5,    2.5};

  /// Registers a route label ("GET /api/kv/{key}") before serving; returns
  /// its index for `record`.
  size_t add_route(std::string label);

  /// Freezes the route table; call once before the first `record`.
  void seal();

  /// One finished request.
  void record(size_t route, int status, std::chrono::nanoseconds latency);

  /// The `labrt_http_*` families.
  std::string render() const;

private:
  /// Status classes counted: 2xx, 3xx, 4xx, 5xx.
  static constexpr size_t classes = 4;

  struct route {
    std::array<std::atomic<uint64_t>, classes> by_class{};
    std::array<std::atomic<uint64_t>, bounds.size() + 1> buckets{};
    std::atomic<uint64_t> sum_ns{0};
  };

  std::vector<std::string> labels_;
  std::unique_ptr<route[]> routes_;
};

/// Escapes a Prometheus label value.
std::string label_value(const std::string& text);

/// The managers', runner's and services' families, asked through `c`, and
/// the number of open event streams.
std::string render_runtime_metrics(client& c, size_t streams_open);

} // namespace labrt::http
