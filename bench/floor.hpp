// The machine's floor for a blocking call: one thread hands a request to
// another and waits for the answer. A labrt::client call does the same (the
// caller's thread wakes a CAF worker, the worker wakes the caller), so these
// round trips, measured in the same run, are what its latency is compared to.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace labrt::bench {

/// Round trips of `seconds`, each timed in nanoseconds.
struct round_trips {
  std::vector<uint32_t> ns;
  double seconds = 0;
};

namespace detail {

inline uint32_t elapsed_ns(std::chrono::steady_clock::time_point t0) {
  auto d = std::chrono::steady_clock::now() - t0;
  auto n = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return static_cast<uint32_t>(n < 0 ? 0 : n > UINT32_MAX ? UINT32_MAX : n);
}

/// Runs `ping` (one round trip) until `seconds` have passed.
template <class Ping>
round_trips time_round_trips(double seconds, Ping ping) {
  round_trips result;
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  for (auto now = start; now < end; now = std::chrono::steady_clock::now()) {
    ping();
    result.ns.push_back(detail::elapsed_ns(now));
  }
  result.seconds = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  return result;
}

} // namespace detail

/// Ping-pong over a mutex and two condition variables: both sides sleep in
/// the kernel while they wait, as an idle CAF worker and a client do.
inline round_trips condvar_ping_pong(double seconds) {
  std::mutex m;
  std::condition_variable to_server, to_client;
  uint64_t asked = 0, answered = 0;
  bool stop = false;
  std::thread server{[&] {
    std::unique_lock<std::mutex> lock{m};
    for (;;) {
      to_server.wait(lock, [&] { return stop || asked > answered; });
      if (stop)
        return;
      answered = asked;
      to_client.notify_one();
    }
  }};
  auto result = detail::time_round_trips(seconds, [&] {
    std::unique_lock<std::mutex> lock{m};
    auto n = ++asked;
    to_server.notify_one();
    to_client.wait(lock, [&] { return answered == n; });
  });
  {
    std::lock_guard<std::mutex> lock{m};
    stop = true;
  }
  to_server.notify_one();
  server.join();
  return result;
}

/// Ping-pong over two atomics with both sides spinning: what a round trip
/// costs when nobody sleeps (and a core is burnt on each side).
inline round_trips spin_ping_pong(double seconds) {
  std::atomic<uint64_t> asked{0}, answered{0};
  std::atomic<bool> stop{false};
  std::thread server{[&] {
    uint64_t seen = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      auto n = asked.load(std::memory_order_acquire);
      if (n != seen) {
        seen = n;
        answered.store(n, std::memory_order_release);
      }
    }
  }};
  uint64_t n = 0;
  auto result = detail::time_round_trips(seconds, [&] {
    asked.store(++n, std::memory_order_release);
    while (answered.load(std::memory_order_acquire) != n) {
    }
  });
  stop = true;
  server.join();
  return result;
}

} // namespace labrt::bench
