// labrt-bench: the ways into the kv store, each timed on the same workload:
// (a) the blocking facade, (b) actor-to-actor requests, (c) fire-and-forget.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "labrt/atoms.hpp"
#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/interfaces.hpp"
#include "labrt/runtime.hpp"

#include "kv_harness.hpp"

namespace labrt::bench::kv {

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

namespace {

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

} // namespace

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

namespace {

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

} // namespace

measurement run_fire_and_forget(labrt::runtime& rt, const workload& w, int n,
                                double secs, uint64_t max_msgs,
                                bool payload) {
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

} // namespace labrt::bench::kv
