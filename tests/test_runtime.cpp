// The embedding facade: runtimes, clients, shutdown.
#include <malloc.h>

#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "labrt/event_stream.hpp"
#include "proc_support.hpp"
#include "support.hpp"

using namespace labrt;
using namespace labrt::test;

TEST_CASE("runtime: many runtimes in one process, each with its own state",
  "[runtime]") {
  auto a = start_runtime();
  auto b = start_runtime();
  client ca{*a};
  client cb{*b};
  value_of(ca.kv().set("k", "a"));
  CHECK(value_of(cb.kv().get("k")).is_null());
  value_of(cb.tests().start_test("b.py", 1));
  CHECK_FALSE(value_of(ca.tests().is_running()));
}

TEST_CASE("runtime: two clients of one runtime see the same state",
  "[runtime]") {
  auto rt = start_runtime();
  client first{*rt};
  client second{*rt};
  value_of(first.services().set_status("qsfp_service", true));
  CHECK(value_of(second.services().is_service_running("qsfp_service")));
  value_of(second.kv().set("shared", 1));
  CHECK(value_of(first.kv().get("shared")) == 1);
  value_of(first.tests().start_test("t.py", 7));
  CHECK(value_of(second.tests().get_pid()) == 7);
}

TEST_CASE("runtime: scheduler threads: 1 on up to 2 cores, else the core count",
  "[runtime]") {
  auto rt = start_runtime();
  size_t cores = std::max(1u, std::thread::hardware_concurrency());
  auto expected = cores <= 2 ? size_t{1} : cores;
  CHECK(scheduler_threads(runtime_config{}) == expected);
  CHECK(rt->system().scheduler().num_workers() == expected);
  runtime_config cfg;
  cfg.max_threads = 3;
  auto three = start_runtime(cfg);
  CHECK(three->system().scheduler().num_workers() == 3);
}

TEST_CASE("runtime: calls after shutdown fail cleanly", "[runtime]") {
  auto rt = start_runtime();
  client c{*rt};
  value_of(c.kv().set("k", 1));
  rt->shutdown();
  rt->shutdown(); // idempotent
  CHECK(error_of(c.kv().get("k")) == errc::shutting_down);
  CHECK(error_of(c.tests().is_running()) == errc::shutting_down);
}

TEST_CASE("runtime: bad configuration is refused", "[runtime]") {
  runtime_config cfg;
  cfg.history_capacity = 0;
  auto rt = runtime::make(cfg);
  REQUIRE_FALSE(rt);
  CHECK(code_of(rt.error()) == errc::invalid_argument);
}

TEST_CASE("runtime: errors render with their category", "[runtime]") {
  auto rt = start_runtime();
  auto err = make_error(errc::already_running, "test 'x' is running");
  CHECK(rt->system().render(err) == "already_running: test 'x' is running");
  CHECK(render(err) == "already_running: test 'x' is running");
  CHECK(std::string{to_string(errc::conflict)} == "conflict");
  CHECK(code_of(caf::make_error(caf::sec::request_timeout)) == errc::timeout);
}

namespace {

/// An actor that accepts atom::count but keeps the promise undelivered, in
/// `held` (a spawn argument: see the note in test_feed.cpp).
caf::actor spawn_mute(runtime& rt,
                      std::shared_ptr<std::vector<caf::response_promise>> held) {
  return rt.system().spawn(
    [](caf::event_based_actor* self,
       std::shared_ptr<std::vector<caf::response_promise>> promises) {
      return caf::behavior{[self, promises](atom::count) {
        promises->push_back(self->make_response_promise());
      }};
    },
    std::move(held));
}

/// Stops `mute` and, once it is gone (its handler may still be running when
/// the caller's wait ends), drops the promises it kept.
void stop_mute(runtime& rt, const caf::actor& mute,
               std::vector<caf::response_promise>& held) {
  caf::scoped_actor self{rt.system()};
  self->monitor(mute);
  caf::anon_send_exit(mute, caf::exit_reason::kill);
  bool down = receive_within(deadline, [&](auto wait) {
    self->receive([](caf::down_msg&) {}, std::move(wait));
  });
  REQUIRE(down);
  held.clear();
}

} // namespace

TEST_CASE("runtime: a client call times out instead of hanging", "[runtime]") {
  auto rt = start_runtime();
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  auto mute = spawn_mute(*rt, held);
  caf::scoped_actor self{rt->system()};
  bool timed_out = false;
  self->request(mute, std::chrono::milliseconds{50}, atom::count_v)
    .receive([](uint64_t) {},
             [&](caf::error& err) {
               timed_out = code_of(err) == errc::timeout;
             });
  CHECK(timed_out);
  stop_mute(*rt, mute, *held);
}

TEST_CASE("runtime: a waiting call asks its hook between slices", "[runtime]") {
  auto rt = start_runtime();
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  auto mute = spawn_mute(*rt, held);
  client c{*rt, std::chrono::minutes{1}};
  int asked = 0;
  c.wait_in_slices(std::chrono::milliseconds{1}, [&] { return ++asked < 3; });
  auto n = c.kv(caf::actor_cast<kv_store_actor>(mute)).size();
  CHECK(error_of(n) == errc::timeout);
  CHECK(message_of(n.error()) == "interrupted while waiting");
  CHECK(asked == 3);
  stop_mute(*rt, mute, *held);
}

TEST_CASE("runtime: spawned managers have their own state and stop with it",
  "[runtime]") {
  auto rt = start_runtime();
  client c{*rt};
  auto kv = value_of(rt->spawn_kv());
  auto services = value_of(rt->spawn_services());
  auto tests = value_of(rt->spawn_test_execution());
  value_of(c.kv(kv).set("k", 1));
  CHECK(value_of(c.kv().get("k")).is_null());
  CHECK(value_of(c.kv(kv).get("k")) == 1);
  value_of(c.services(services).set_status("qsfp_service", true));
  CHECK_FALSE(value_of(c.services().is_service_running("qsfp_service")));
  value_of(c.tests(tests).start_test("a.py", 1));
  CHECK_FALSE(value_of(c.tests().is_running()));
  CHECK(error_of(c.tests(tests).start_test("b.py", 2)) == errc::already_running);
  CHECK(value_of(c.kv(kv).history()).size() == 1);
  caf::scoped_actor self{rt->system()};
  for (auto& a : {caf::actor_cast<caf::actor>(kv), caf::actor_cast<caf::actor>(services),
                  caf::actor_cast<caf::actor>(tests)})
    self->monitor(a);
  rt->shutdown();
  int down = 0;
  for (int i = 0; i < 3; ++i)
    down += receive_within(deadline, [&](auto wait) {
      self->receive([](caf::down_msg&) {}, std::move(wait));
    });
  CHECK(down == 3);
  CHECK(error_of(rt->spawn_kv()) == errc::shutting_down);
}

TEST_CASE("runtime: a spawned manager whose last handle goes stops", "[runtime]") {
  auto rt = start_runtime();
  caf::scoped_actor self{rt->system()};
  {
    auto kv = value_of(rt->spawn_kv());
    self->monitor(kv);
  }
  bool down = receive_within(deadline, [&](auto wait) {
    self->receive([](caf::down_msg&) {}, std::move(wait));
  });
  CHECK(down);
  client c{*rt};
  value_of(c.kv().set("still", "here")); // The anchor lives on.
}

namespace {

/// Returns once the hub has handled every message sent to it before.
void hub_barrier(runtime& rt) {
  caf::scoped_actor self{rt.system()};
  bool answered = false;
  self->request(rt.events(), deadline, atom::metrics_v)
    .receive([&](json&) { answered = true; },
             [&](caf::error& err) { FAIL("hub: " << render(err)); });
  REQUIRE(answered);
}

} // namespace

TEST_CASE("runtime: a closed event stream leaves nothing in the hub",
  "[runtime]") {
  runtime_config cfg;
  cfg.event_hub = true;
  auto rt = start_runtime(cfg);
  // Every monitor on the hub holds a weak reference to it (and one to its
  // observer, whose storage CAF 0.17 frees only with the last of those).
  auto* hub = caf::actor_control_block::from(
    caf::actor_cast<caf::abstract_actor*>(rt->events()));
  auto weak = [hub] { return hub->weak_refs.load(); };
  auto before = weak();
  constexpr size_t streams = 50;
  for (size_t i = 0; i < streams; ++i) {
    auto stream = value_of(event_stream::open(*rt, events_from_now));
    value_of(stream.next(1ms));
  }
  // A closed stream has sent the hub all it will before its destructor
  // returned: once the hub answers a later request, it has handled them.
  hub_barrier(*rt);
  CHECK(weak() <= before + 2);
}

TEST_CASE("runtime: streams closed with a batch unacknowledged cost no memory",
  "[runtime]") {
  runtime_config cfg;
  cfg.event_hub = true;
  auto rt = start_runtime(cfg);
  client c{*rt};
  // Fills the hub's ring and the kv change log: from here on an event
  // replaces one of the same size.
  for (int i = 0; i < 6000; ++i)
    value_of(c.kv().set("k", i));
  // Every arena of glibc's malloc (under a sanitizer its allocator is not
  // seen and the check passes vacuously).
  auto used = [] { return static_cast<double>(mallinfo2().uordblks); };
  constexpr int streams = 500;
  auto before = used();
  for (int i = 0; i < streams; ++i) {
    // Each stream ends holding the acknowledgement of the batch it got,
    // as an SSE handler whose reader vanished does.
    auto stream = value_of(event_stream::open(*rt, events_from_now));
    value_of(c.kv().set("k", i));
    REQUIRE_FALSE(value_of(stream.next(deadline)).events.empty());
  }
  hub_barrier(*rt);
  // Without the acknowledgement and the demonitor: ~750 bytes per stream
  // (the hub's response handler and monitor keep the stream's actor).
  auto per_stream = (used() - before) / streams;
  INFO(per_stream << " bytes per stream");
  CHECK(per_stream < 200);
}

TEST_CASE("runtime: a runtime may be destroyed on any thread", "[runtime]") {
  // Embedders (the Python package at interpreter exit) may drop their
  // runtime on a thread that did not make it.
  SECTION("the defaults") {
    CHECK(destroyed_elsewhere(start_runtime()));
  }
  SECTION("runner and event hub, after calls from this thread") {
    temp_dir dir{"labrt-rt-thread"};
    runtime_config cfg;
    cfg.runner.roots = {dir.path};
    cfg.runner.logs_dir = dir / "logs";
    cfg.runner.grace_ms = 500;
    cfg.event_hub = true;
    auto rt = start_runtime(cfg);
    {
      // Each of these takes this thread into the actor system.
      client c{*rt};
      auto stream = value_of(event_stream::open(*rt, events_from_now));
      value_of(c.kv(value_of(rt->spawn_kv())).set("k", 1));
      value_of(c.kv().set("k", 1));
      REQUIRE_FALSE(value_of(stream.next(deadline)).events.empty());
    }
    CHECK(destroyed_elsewhere(std::move(rt)));
  }
  SECTION("shut down on this thread first") {
    auto rt = start_runtime();
    rt->shutdown();
    CHECK(destroyed_elsewhere(std::move(rt)));
  }
}
