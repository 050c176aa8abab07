// labrt-bench: the kv store under a get/set mix, through every way in, next to
// lock-based maps on the same workload, printed as one Markdown report.
//
//   labrt-bench [--seconds S] [--sched-threads N] [--max-msgs M]
//               [--only base,a,b,c,diag]   (a subset of the groups; targets need all)
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
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "labrt/atoms.hpp"
#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/interfaces.hpp"
#include "labrt/runtime.hpp"

#include "floor.hpp"

namespace {

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
  labrt::scheduler_config sched; ///< How idle workers wait (--spin-polls ...).

  bool runs(const char* group) const {
    if (only.empty())
      return true;
    auto list = "," + only + ",";
    return list.find("," + std::string{group} + ",") != std::string::npos;
  }
};

constexpr size_t num_keys = 1000;
constexpr uint64_t sample_mask = 7; // time every 8th op
const std::vector<int> thread_counts{1, 4, 16, 64};
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

uint32_t to_ns(clock_type::duration d) {
  auto n = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(n, 0, UINT32_MAX));
}

double to_s(clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::atomic<size_t> sink{0}; // keeps baseline reads from being optimised away

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

std::string ref_id(const std::string& kind, int threads) {
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

// -- (a) blocking facade ------------------------------------------------------

measurement run_facade(labrt::runtime& rt, const workload& w, int n,
                       double secs) {
  return run_threads(n, secs, true, [&](int) {
    auto c = std::make_unique<labrt::client>(rt, request_timeout);
    return [&w, c = std::move(c)](uint64_t x) {
      if (workload::is_get(x))
        return static_cast<bool>(c->kv().get(w.key(x), nullptr));
      return static_cast<bool>(c->kv().set(w.key(x), w.value(x)));
    };
  });
}

/// Diagnostic: what the facade does, but the request has no CAF timeout and
/// the deadline is a local `after` on the blocking receive (no clock thread).
measurement run_scoped_local_timeout(labrt::runtime& rt, const workload& w,
                                     int n, double secs) {
  auto kv = rt.kv();
  return run_threads(n, secs, true, [&](int) {
    auto self = std::make_shared<caf::scoped_actor>(rt.system());
    return [&w, kv, self](uint64_t x) {
      bool ok = false;
      caf::blocking_actor::accept_one_cond rc;
      auto on_error = [&](caf::error&) { ok = false; };
      auto on_timeout = caf::after(request_timeout) >> [&] { ok = false; };
      if (workload::is_get(x)) {
        auto h = (*self)->request(kv, caf::infinite, labrt::atom::get_v,
                                  w.key(x), json{});
        (*self)->varargs_receive(rc, h.id(), [&](json&) { ok = true; },
                                 on_error, on_timeout);
      } else {
        auto h = (*self)->request(kv, caf::infinite, labrt::atom::set_v,
                                  w.key(x), w.value(x));
        (*self)->varargs_receive(rc, h.id(), [&](uint64_t) { ok = true; },
                                 on_error, on_timeout);
      }
      return ok;
    };
  });
}

// -- (b) actor-to-actor -------------------------------------------------------

struct countdown {
  std::mutex mx;
  std::condition_variable cv;
  int remaining;
  explicit countdown(int n) : remaining(n) {
  }
  void arrive() {
    std::lock_guard<std::mutex> lk{mx};
    if (--remaining == 0)
      cv.notify_all();
  }
  bool wait_for(std::chrono::seconds t) {
    std::unique_lock<std::mutex> lk{mx};
    return cv.wait_for(lk, t, [&] { return remaining == 0; });
  }
};

struct a2a_shared {
  labrt::kv_store_actor kv;
  caf::duration timeout;
  const workload* w;
  std::atomic<bool> stop{false};
  countdown done{num_actors};
};

/// One client actor's loop state; written only by that actor, read by main
/// after `done` (the countdown's mutex orders the accesses).
struct a2a_client {
  a2a_shared* sh;
  rng g;
  uint64_t ops = 0;
  uint64_t errors = 0;
  std::vector<uint32_t> lat;
  clock_type::time_point end;
};

void a2a_next(caf::event_based_actor* self, a2a_client* c);

void a2a_record(caf::event_based_actor* self, a2a_client* c,
                clock_type::time_point t0, bool ok) {
  if ((c->ops & sample_mask) == 0)
    c->lat.push_back(to_ns(clock_type::now() - t0));
  ++c->ops;
  c->errors += ok ? 0 : 1;
  a2a_next(self, c);
}

void a2a_finish(caf::event_based_actor* self, a2a_client* c) {
  c->end = clock_type::now();
  self->quit();
  c->sh->done.arrive();
}

void a2a_next(caf::event_based_actor* self, a2a_client* c) {
  if (c->sh->stop.load(std::memory_order_relaxed)) {
    a2a_finish(self, c);
    return;
  }
  auto x = c->g.next();
  auto& w = *c->sh->w;
  auto t0 = clock_type::now();
  auto on_error = [self, c, t0](caf::error&) { a2a_record(self, c, t0, false); };
  if (workload::is_get(x))
    self->request(c->sh->kv, c->sh->timeout, labrt::atom::get_v, w.key(x),
                  json{})
      .then([self, c, t0](json&) { a2a_record(self, c, t0, true); }, on_error);
  else
    self->request(c->sh->kv, c->sh->timeout, labrt::atom::set_v, w.key(x),
                  w.value(x))
      .then([self, c, t0](uint64_t) { a2a_record(self, c, t0, true); },
            on_error);
}

measurement run_actors(labrt::runtime& rt, const workload& w, double secs,
                       caf::duration timeout) {
  a2a_shared sh;
  sh.kv = rt.kv();
  sh.timeout = timeout;
  sh.w = &w;
  std::vector<a2a_client> clients;
  clients.reserve(num_actors);
  std::vector<caf::actor> actors;
  for (int i = 0; i < num_actors; ++i) {
    clients.push_back(a2a_client{&sh, rng{static_cast<uint64_t>(i) + 101}, 0,
                                 0, {}, {}});
    clients.back().lat.reserve(1u << 16);
    auto* c = &clients.back();
    actors.push_back(
      rt.system().spawn([c](caf::event_based_actor* self) -> caf::behavior {
        // Without a request timeout, a dead store must end the client.
        self->monitor(c->sh->kv);
        self->set_down_handler([self, c](caf::down_msg&) {
          ++c->errors;
          a2a_finish(self, c);
        });
        return {[self, c](labrt::atom::start) { a2a_next(self, c); }};
      }));
  }
  auto start = clock_type::now();
  for (auto& a : actors)
    caf::anon_send(a, labrt::atom::start_v);
  std::this_thread::sleep_until(
    start + std::chrono::duration_cast<clock_type::duration>(
              std::chrono::duration<double>(secs)));
  sh.stop = true;
  measurement m;
  if (!sh.done.wait_for(std::chrono::seconds{30})) {
    std::fprintf(stderr, "actor-to-actor: clients did not stop in time\n");
    std::exit(2);
  }
  auto end = start;
  for (auto& c : clients) {
    m.ops += c.ops;
    m.errors += c.errors;
    end = std::max(end, c.end);
    m.lat_ns.insert(m.lat_ns.end(), c.lat.begin(), c.lat.end());
  }
  m.seconds = to_s(end - start);
  return m;
}

// -- (c) fire-and-forget ------------------------------------------------------

/// A request that the store answers only after every earlier message.
bool sync_store(labrt::runtime& rt, uint64_t& count) {
  caf::scoped_actor self{rt.system()};
  bool ok = false;
  self->request(rt.kv(), std::chrono::seconds{60}, labrt::atom::count_v)
    .receive(
      [&](uint64_t n) {
        count = n;
        ok = true;
      },
      [&](caf::error&) { ok = false; });
  return ok;
}

measurement run_fire_and_forget(labrt::runtime& rt, const workload& w, int n,
                                double secs, uint64_t max_msgs,
                                bool payload = true) {
  auto kv = rt.kv();
  clock_type::time_point start;
  auto m = run_threads(
    n, secs, false,
    [&](int) {
      return [&, payload](uint64_t x) {
        if (payload)
          caf::anon_send(kv, labrt::atom::set_v, w.key(x), w.value(x));
        else
          caf::anon_send(kv, labrt::atom::count_v); // no payload, no work
        return true;
      };
    },
    max_msgs / static_cast<uint64_t>(n), &start);
  auto send_secs = m.seconds;
  uint64_t count = 0;
  if (!sync_store(rt, count))
    ++m.errors;
  m.seconds = to_s(clock_type::now() - start);
  char buf[128];
  std::snprintf(buf, sizeof(buf), "enqueue %.2fM/s, drain after sends %.0f ms",
                static_cast<double>(m.ops) / send_secs / 1e6,
                (m.seconds - send_secs) * 1e3);
  m.note = buf;
  return m;
}

// -- output -------------------------------------------------------------------

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto pos = line.find(':');
      if (pos != std::string::npos)
        return line.substr(line.find_first_not_of(" \t", pos + 1));
    }
  return "unknown";
}

std::string fmt_rate(double r) {
  char buf[32];
  if (r >= 1e6)
    std::snprintf(buf, sizeof(buf), "%.2fM", r / 1e6);
  else if (r >= 1e3)
    std::snprintf(buf, sizeof(buf), "%.1fk", r / 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.0f", r);
  return buf;
}

std::string fmt_us(double us) {
  if (us < 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), us < 10 ? "%.2f" : "%.0f", us);
  return buf;
}

std::string fmt_ratio(const std::map<std::string, row*>& by_ref,
                      const std::string& ref, double rate) {
  auto i = by_ref.find(ref);
  if (ref.empty() || i == by_ref.end() || i->second->m.rate() <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3fx", rate / i->second->m.rate());
  return buf;
}

options parse_args(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    auto arg = std::string{argv[i]};
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (arg == "--seconds")
      opt.seconds = std::strtod(value(), nullptr);
    else if (arg == "--sched-threads")
      opt.sched_threads = std::strtoul(value(), nullptr, 10);
    else if (arg == "--max-msgs")
      opt.max_msgs = std::strtoull(value(), nullptr, 10);
    else if (arg == "--only")
      opt.only = value();
    else if (arg == "--repeat")
      opt.repeat = std::max(1, std::atoi(value()));
    else if (arg == "--spin-polls")
      opt.sched.spin_polls = std::strtoul(value(), nullptr, 10);
    else if (arg == "--sleeping-polls")
      opt.sched.sleeping_polls = std::strtoul(value(), nullptr, 10);
    else if (arg == "--poll-sleep-us")
      opt.sched.poll_sleep = std::chrono::microseconds{
        std::strtoul(value(), nullptr, 10)};
    else {
      std::fprintf(stderr,
                   "usage: labrt-bench [--seconds S] [--sched-threads N] "
                   "[--max-msgs M] [--only floor,base,a,b,c,diag] [--repeat N]\n"
                   "                   [--spin-polls N] [--sleeping-polls N] "
                   "[--poll-sleep-us N]\n");
      std::exit(arg == "--help" || arg == "-h" ? 0 : 1);
    }
  }
  if (opt.seconds <= 0 || opt.max_msgs == 0) {
    std::fprintf(stderr, "--seconds and --max-msgs must be positive\n");
    std::exit(1);
  }
  return opt;
}

} // namespace

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
    for (auto n : thread_counts)
      add(ref_id("mutex-mix", n), "std::mutex map, 50/50", n,
          [&] { return run_baseline<mutex_map>(w, n, opt.seconds, false); });
    for (auto n : thread_counts)
      add(ref_id("shared-mix", n), "std::shared_mutex map, 50/50", n,
          [&] { return run_baseline<shared_map>(w, n, opt.seconds, false); });
    for (auto n : thread_counts)
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
    for (auto n : thread_counts)
      add(ref_id("a", n), "(a) labrt::client, 50/50", n,
          [&] { return run_facade(rt, w, n, opt.seconds); }, ref_id("mutex-mix", n),
          ref_id("shared-mix", n));
  if (opt.runs("b"))
    add(ref_id("b", num_actors),
        "(b) actors request(infinite).then + monitor, 50/50", num_actors,
        [&] { return run_actors(rt, w, opt.seconds, caf::infinite); },
        ref_id("mutex-mix", num_actors), ref_id("shared-mix", num_actors));
  if (opt.runs("c"))
    for (auto n : thread_counts)
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
  if (!opt.only.empty()) {
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
