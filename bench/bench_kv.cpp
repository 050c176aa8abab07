// labrt-bench: the kv store under a get/set mix, through every way in, next to
// lock-based maps on the same workload, printed as one Markdown report.
//
//   labrt-bench [--seconds S] [--sched-threads N] [--max-msgs M]
//               [--only base,a,b,c,diag]   (a subset of the groups; targets
//               need all)
//               [--threads N]              (only the rows of N threads)
//               [--repeat N]   (run each row N times, report the fastest run:
//                               use it on a machine shared with other jobs)
//
// Rows (each runs ~S seconds, default 1):
//   baseline  std::mutex / std::shared_mutex + unordered_map<string, json>
//   (a)       labrt::client (blocking facade), one per thread
//   (b)       64 event-based actors, request(infinite).then() with one request
//             outstanding, each monitoring the store
//   (c)       caf::anon_send(kv, set) from N threads, timed until a final
//             request confirms the store has processed everything
// Latency is timed on every 8th operation (two clock reads per timed op).
//
// The harness is in kv_harness.hpp, the ways in in kv_ways.cpp, the report's
// formatting and the command line in kv_report.cpp.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <caf/config.hpp>

#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/runtime.hpp"

#include "floor.hpp"
#include "kv_harness.hpp"

namespace labrt::bench::kv {
namespace {

std::atomic<size_t> sink{0}; // keeps baseline reads from being optimised away

// -- baselines ----------------------------------------------------------------

template <class Mutex, bool Shared>
struct locked_map {
  Mutex mx;
  std::unordered_map<std::string, json> map;

  json get(const std::string& key, const json& fallback) {
    auto lock = [&] {
      if constexpr (Shared)
        return std::shared_lock<Mutex>{mx};
      else
        return std::unique_lock<Mutex>{mx};
    }();
    auto i = map.find(key);
    return i == map.end() ? fallback : i->second;
  }

  uint64_t set(const std::string& key, json value) {
    std::unique_lock<Mutex> lock{mx};
    map[key] = std::move(value);
    return map.size();
  }
};

template <class Map>
measurement run_baseline(const workload& w, int n, double secs, bool sets_only) {
  Map store;
  for (size_t i = 0; i < num_keys; ++i)
    store.set(w.keys[i], w.values[i]);
  const json fallback;
  return run_threads(n, secs, true, [&](int) {
    return [&](uint64_t x) {
      if (!sets_only && workload::is_get(x)) {
        auto v = store.get(w.key(x), fallback);
        sink.fetch_add(v.size(), std::memory_order_relaxed);
      } else {
        store.set(w.key(x), w.value(x));
      }
      return true;
    };
  });
}

} // namespace
} // namespace labrt::bench::kv

using namespace labrt::bench::kv;

int main(int argc, char** argv) {
  auto opt = parse_args(argc, argv);
  workload w;
  auto cores = std::thread::hardware_concurrency();
  labrt::runtime_config cfg;
  cfg.max_threads = opt.sched_threads;
  cfg.scheduler = opt.sched;
  auto sched = labrt::scheduler_threads(cfg);
  auto total_start = clock_type::now();

  std::printf("# labrt-bench\n\n");
  std::printf("- machine: %u cores (nproc), %s\n", cores, cpu_model().c_str());
  std::printf("- CAF %d.%d.%d, labrt scheduler threads: %zu; idle workers: "
              "%zu spinning polls, %zu sleeping polls %lld us apart\n",
              CAF_VERSION / 10000, CAF_VERSION / 100 % 100, CAF_VERSION % 100,
              sched, opt.sched.spin_polls, opt.sched.sleeping_polls,
              static_cast<long long>(opt.sched.poll_sleep.count()));
  std::printf("- workload: %zu keys, values like `%s` (%zu bytes as text); "
              "mix = 50%% get / 50%% set, uniform keys\n",
              num_keys, w.values[7].dump().c_str(), w.values[7].dump().size());
  std::printf("- each row ~%.1f s%s; latency timed on every %llu th op; "
              "fire-and-forget capped at %llu msgs per row\n\n",
              opt.seconds,
              opt.repeat > 1
                ? (", best of " + std::to_string(opt.repeat) + " runs").c_str()
                : "",
              static_cast<unsigned long long>(sample_mask + 1),
              static_cast<unsigned long long>(opt.max_msgs));
  std::fflush(stdout);

  std::vector<std::unique_ptr<row>> rows;
  auto add = [&](std::string id, std::string label, int threads,
                 const std::function<measurement()>& run,
                 std::string mutex_ref = {}, std::string shared_ref = {}) {
    auto m = run();
    for (int i = 1; i < opt.repeat; ++i) {
      auto next = run();
      if (next.rate() > m.rate())
        m = std::move(next);
    }
    auto r = std::make_unique<row>();
    r->id = std::move(id);
    r->label = std::move(label);
    r->threads = threads;
    r->m = std::move(m);
    if (auto p = r->m.percentile_us(0.50))
      r->p50 = *p;
    if (auto p = r->m.percentile_us(0.99))
      r->p99 = *p;
    r->m.lat_ns = {};
    r->mutex_ref = std::move(mutex_ref);
    r->shared_ref = std::move(shared_ref);
    std::fprintf(stderr, "  %-28s %3d: %s ops/s\n", r->label.c_str(), threads,
                 fmt_rate(r->m.rate()).c_str());
    rows.push_back(std::move(r));
  };

  // The floor and the baselines first, before any actor system exists.
  if (opt.runs("floor")) {
    auto as_row = [](labrt::bench::round_trips rt) {
      measurement m;
      m.ops = rt.ns.size();
      m.seconds = rt.seconds;
      m.lat_ns = std::move(rt.ns);
      return m;
    };
    add(ref_id("floor-condvar", 1), "floor: condvar ping-pong", 1,
        [&] { return as_row(labrt::bench::condvar_ping_pong(opt.seconds)); });
    add(ref_id("floor-spin", 1), "floor: spinning ping-pong", 1,
        [&] { return as_row(labrt::bench::spin_ping_pong(opt.seconds)); });
  }
  using mutex_map = locked_map<std::mutex, false>;
  using shared_map = locked_map<std::shared_mutex, true>;
  if (opt.runs("base")) {
    for (auto n : counts_of(opt))
      add(ref_id("mutex-mix", n), "std::mutex map, 50/50", n,
          [&] { return run_baseline<mutex_map>(w, n, opt.seconds, false); });
    for (auto n : counts_of(opt))
      add(ref_id("shared-mix", n), "std::shared_mutex map, 50/50", n,
          [&] { return run_baseline<shared_map>(w, n, opt.seconds, false); });
    for (auto n : counts_of(opt))
      add(ref_id("mutex-set", n), "std::mutex map, sets only", n,
          [&] { return run_baseline<mutex_map>(w, n, opt.seconds, true); });
  }

  auto rt_res = labrt::runtime::make(cfg);
  if (!rt_res) {
    std::fprintf(stderr, "runtime::make failed: %s\n",
                 labrt::render(rt_res.error()).c_str());
    return 1;
  }
  auto& rt = **rt_res;
  {
    labrt::client c{rt};
    for (size_t i = 0; i < num_keys; ++i)
      if (!c.kv().set(w.keys[i], w.values[i])) {
        std::fprintf(stderr, "prefill failed\n");
        return 1;
      }
  }

  if (opt.runs("a"))
    for (auto n : counts_of(opt))
      add(ref_id("a", n), "(a) labrt::client, 50/50", n,
          [&] { return run_facade(rt, w, n, opt.seconds); }, ref_id("mutex-mix", n),
          ref_id("shared-mix", n));
  if (opt.runs("b"))
    add(ref_id("b", num_actors),
        "(b) actors request(infinite).then + monitor, 50/50", num_actors,
        [&] { return run_actors(rt, w, opt.seconds, caf::infinite); },
        ref_id("mutex-mix", num_actors), ref_id("shared-mix", num_actors));
  if (opt.runs("c"))
    for (auto n : counts_of(opt))
      add(ref_id("c", n), "(c) anon_send set", n,
          [&] { return run_fire_and_forget(rt, w, n, opt.seconds, opt.max_msgs); },
          ref_id("mutex-set", n));

  // Diagnostics: one change each against the rows above (see README).
  if (opt.runs("diag")) {
    add(ref_id("a-local", 1),
        "diag (a'): scoped_actor, request(infinite) + after(10 s)", 1,
        [&] { return run_scoped_local_timeout(rt, w, 1, opt.seconds); }, ref_id("mutex-mix", 1),
        ref_id("shared-mix", 1));
    add(ref_id("b-timeout", num_actors), "diag (b'): as (b), request(10 s)",
        num_actors,
        [&] {
          return run_actors(rt, w, opt.seconds,
                            caf::duration{request_timeout});
        },
        ref_id("mutex-mix", num_actors), ref_id("shared-mix", num_actors));
    add(ref_id("c-count", 4), "diag (c'): anon_send count (no payload)", 4,
        [&] { return run_fire_and_forget(rt, w, 4, opt.seconds, opt.max_msgs, false); });
  }

  std::map<std::string, row*> by_ref;
  for (auto& r : rows)
    by_ref[r->id] = r.get();

  std::printf("| workload | threads / actors | ops | ops/s | p50 us | p99 us "
              "| vs std::mutex | vs std::shared_mutex | notes |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
  for (auto& r : rows) {
    auto note = r->m.note;
    if (r->m.errors > 0)
      note += (note.empty() ? "" : "; ") + std::to_string(r->m.errors)
              + " ERRORS";
    std::printf("| %s | %d | %llu | %s | %s | %s | %s | %s | %s |\n",
                r->label.c_str(), r->threads,
                static_cast<unsigned long long>(r->m.ops),
                fmt_rate(r->m.rate()).c_str(), fmt_us(r->p50).c_str(),
                fmt_us(r->p99).c_str(),
                fmt_ratio(by_ref, r->mutex_ref, r->m.rate()).c_str(),
                fmt_ratio(by_ref, r->shared_ref, r->m.rate()).c_str(),
                note.c_str());
  }

  // (a) with one thread against this machine's floor, in this run.
  auto floor = by_ref.find(ref_id("floor-condvar", 1));
  auto a1_row = by_ref.find(ref_id("a", 1));
  if (floor != by_ref.end() && a1_row != by_ref.end() && floor->second->p50 > 0)
    std::printf("\n(a) 1 thread p50 = %.2fx the condvar round trip "
                "(target <= 1.5x)\n",
                a1_row->second->p50 / floor->second->p50);

  // Targets for this 2-core machine.
  if (!opt.full()) {
    std::printf("\nTargets are judged on a full run only.\n");
    return 0;
  }
  auto& a1 = *by_ref.at(ref_id("a", 1));
  auto& b = *by_ref.at(ref_id("b", num_actors));
  const row* best_c = nullptr;
  for (auto n : thread_counts) {
    auto* r = by_ref.at(ref_id("c", n));
    if (!best_c || r->m.rate() > best_c->m.rate())
      best_c = r;
  }
  auto verdict = [](bool met) { return met ? "met" : "**MISSED**"; };
  std::printf("\n| target | measured | verdict |\n| --- | --- | --- |\n");
  std::printf("| (a) facade p50 <= 20 us, 1 thread | %s us | %s |\n",
              fmt_us(a1.p50).c_str(), verdict(a1.p50 >= 0 && a1.p50 <= 20));
  std::printf("| (b) actor-to-actor >= 500k ops/s | %s ops/s | %s |\n",
              fmt_rate(b.m.rate()).c_str(), verdict(b.m.rate() >= 500e3));
  std::printf("| (c) fire-and-forget >= 2.5M msg/s | %s msg/s (best, %d "
              "threads) | %s |\n",
              fmt_rate(best_c->m.rate()).c_str(), best_c->threads,
              verdict(best_c->m.rate() >= 2.5e6));
  std::printf("\nTotal run time %.1f s.\n",
              to_s(clock_type::now() - total_start));
  return 0;
}
