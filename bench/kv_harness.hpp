// labrt-bench's harness: the options, the workload, the measurements and the
// thread-pool loop every row runs in; the ways into the store (kv_ways.cpp)
// and the report's formatting (kv_report.cpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/duration.hpp>

#include "labrt/config.hpp"
#include "labrt/json.hpp"
#include "labrt/runtime.hpp"

namespace labrt::bench::kv {

using labrt::json;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

// -- options and workload -----------------------------------------------------

struct options {
  double seconds = 1.0;          ///< Per row.
  size_t sched_threads = 0;      ///< runtime_config::max_threads (0: default).
  uint64_t max_msgs = 2'000'000; ///< Cap of fire-and-forget messages per row.
  std::string only;              ///< Groups to run, e.g. "base,a" (empty: all).
  int repeat = 1;                ///< Runs per row; the fastest is reported.
  int threads = 0;               ///< Only rows of this many threads (0: all).
  labrt::scheduler_config sched; ///< How idle workers wait (--spin-polls ...).

  bool runs(const char* group) const {
    if (only.empty())
      return true;
    auto list = "," + only + ",";
    return list.find("," + std::string{group} + ",") != std::string::npos;
  }

  /// Whether every row runs, which the targets need.
  bool full() const {
    return only.empty() && threads == 0;
  }
};

constexpr size_t num_keys = 1000;
constexpr uint64_t sample_mask = 7; // time every 8th op
inline const std::vector<int> thread_counts{1, 4, 16, 64};

/// The thread counts of the rows `opt` asks for.
inline std::vector<int> counts_of(const options& opt) {
  return opt.threads > 0 ? std::vector<int>{opt.threads} : thread_counts;
}
constexpr int num_actors = 64;
constexpr auto request_timeout = std::chrono::seconds{10};

/// 1000 keys with a small JSON object each (about 60 bytes as text).
struct workload {
  std::vector<std::string> keys;
  std::vector<json> values;

  workload() {
    keys.reserve(num_keys);
    values.reserve(num_keys);
    for (size_t i = 0; i < num_keys; ++i) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "key-%04zu", i);
      keys.emplace_back(buf);
      values.push_back(json{{"id", i},
                            {"name", "sensor-" + std::to_string(i)},
                            {"ok", i % 2 == 0},
                            {"temp", 20.0 + static_cast<double>(i) / 100.0}});
    }
  }

  // One 64-bit random draw decides the op (bit 0: get or set), key and value.
  static bool is_get(uint64_t r) {
    return (r & 1) != 0;
  }
  const std::string& key(uint64_t r) const {
    return keys[(r >> 1) % num_keys];
  }
  const json& value(uint64_t r) const {
    return values[(r >> 21) % num_keys];
  }
};

/// xorshift64*: cheap and good enough to pick keys.
struct rng {
  uint64_t s;
  explicit rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {
  }
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
};

inline uint32_t to_ns(clock_type::duration d) {
  auto n = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(n, 0, UINT32_MAX));
}

inline double to_s(clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

// -- results ------------------------------------------------------------------

struct measurement {
  uint64_t ops = 0;
  uint64_t errors = 0;
  double seconds = 0;
  std::vector<uint32_t> lat_ns; // sampled; empty: no per-op latency
  std::string note;

  double rate() const {
    return seconds > 0 ? static_cast<double>(ops) / seconds : 0;
  }
  std::optional<double> percentile_us(double p) {
    if (lat_ns.empty())
      return std::nullopt;
    auto idx = std::min(lat_ns.size() - 1,
                        static_cast<size_t>(p * static_cast<double>(lat_ns.size())));
    std::nth_element(lat_ns.begin(),
                     lat_ns.begin() + static_cast<std::ptrdiff_t>(idx),
                     lat_ns.end());
    return lat_ns[idx] / 1000.0;
  }
};

struct row {
  std::string id;       ///< e.g. "a", "base-mutex"
  std::string label;    ///< Human-readable workload.
  int threads;          ///< Threads or actors.
  measurement m;
  double p50 = -1, p99 = -1;
  std::string mutex_ref, shared_ref; ///< Baseline row ids to compare against.
};

inline std::string ref_id(const std::string& kind, int threads) {
  return kind + "/" + std::to_string(threads);
}

// -- a thread-pool harness ----------------------------------------------------

struct per_thread {
  uint64_t ops = 0;
  uint64_t errors = 0;
  clock_type::time_point end;
  std::vector<uint32_t> lat;
};

/// Runs `n` threads; each calls `factory(i)` first (untimed; e.g. to create its
/// labrt::client), then loops `op(random)` until `duration` passed or it did
/// `max_ops`. Returns when all have stopped; `started` receives the start.
template <class Factory>
measurement run_threads(int n, double duration, bool timed, Factory factory,
                        uint64_t max_ops = UINT64_MAX,
                        clock_type::time_point* started = nullptr) {
  std::vector<per_thread> res(static_cast<size_t>(n));
  std::mutex mx;
  std::condition_variable cv;
  int ready = 0;
  bool go = false;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      auto& r = res[static_cast<size_t>(i)];
      auto op = factory(i);
      rng g{static_cast<uint64_t>(i) + 1};
      if (timed)
        r.lat.reserve(1u << 16);
      {
        std::unique_lock<std::mutex> lk{mx};
        ++ready;
        cv.notify_all();
        cv.wait(lk, [&] { return go; });
      }
      uint64_t k = 0;
      while (k < max_ops && !stop.load(std::memory_order_relaxed)) {
        auto x = g.next();
        bool ok;
        if (timed && (k & sample_mask) == 0) {
          auto t0 = clock_type::now();
          ok = op(x);
          r.lat.push_back(to_ns(clock_type::now() - t0));
        } else {
          ok = op(x);
        }
        r.errors += ok ? 0 : 1;
        ++k;
      }
      r.ops = k;
      r.end = clock_type::now();
    });
  clock_type::time_point start;
  {
    std::unique_lock<std::mutex> lk{mx};
    cv.wait(lk, [&] { return ready == n; });
    start = clock_type::now();
    go = true;
    cv.notify_all();
  }
  std::this_thread::sleep_until(
    start + std::chrono::duration_cast<clock_type::duration>(
              std::chrono::duration<double>(duration)));
  stop = true;
  for (auto& t : threads)
    t.join();
  measurement m;
  auto end = start;
  for (auto& r : res) {
    m.ops += r.ops;
    m.errors += r.errors;
    end = std::max(end, r.end);
    m.lat_ns.insert(m.lat_ns.end(), r.lat.begin(), r.lat.end());
  }
  m.seconds = to_s(end - start);
  if (started)
    *started = start;
  return m;
}

// -- the ways in (kv_ways.cpp) ------------------------------------------------

/// (a) labrt::client (the blocking facade), one per thread.
measurement run_facade(labrt::runtime& rt, const workload& w, int n,
                       double secs);

/// Diagnostic: what the facade does, but the request has no CAF timeout and
/// the deadline is a local `after` on the blocking receive (no clock thread).
measurement run_scoped_local_timeout(labrt::runtime& rt, const workload& w,
                                     int n, double secs);

/// (b) 64 event-based actors with one request outstanding each.
measurement run_actors(labrt::runtime& rt, const workload& w, double secs,
                       caf::duration timeout);

/// (c) caf::anon_send from `n` threads, timed until the store has processed
/// everything.
measurement run_fire_and_forget(labrt::runtime& rt, const workload& w, int n,
                                double secs, uint64_t max_msgs,
                                bool payload = true);

// -- the report (kv_report.cpp) -----------------------------------------------

std::string cpu_model();

std::string fmt_rate(double r);

std::string fmt_us(double us);

std::string fmt_ratio(const std::map<std::string, row*>& by_ref,
                      const std::string& ref, double rate);

options parse_args(int argc, char** argv);

} // namespace labrt::bench::kv
