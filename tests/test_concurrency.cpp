// Many real threads against one runtime: the races of the old design, closed.
#include <atomic>
#include <set>
#include <thread>

#include "support.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

/// Runs `n` threads of `f(i)` and joins them.
template <class F>
void run_threads(int n, F f) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    threads.emplace_back(f, i);
  for (auto& t : threads)
    t.join();
}

} // namespace

TEST_CASE("concurrency: 5 writers x 100 keys and 5 readers", "[concurrency]") {
  auto rt = start_runtime();
  std::atomic<int> errors{0};
  std::atomic<int> reads{0};
  run_threads(10, [&](int id) {
    client c{*rt};
    for (int k = 0; k < 100; ++k) {
      if (id < 5) {
        auto key = "w" + std::to_string(id) + "-" + std::to_string(k);
        if (!c.kv().set(key, k))
          ++errors;
      } else {
        auto items = c.kv().items();
        if (!items || !items->is_object())
          ++errors;
        ++reads;
      }
    }
  });
  client c{*rt};
  CHECK(errors == 0);
  CHECK(reads == 500);
  CHECK(value_of(c.kv().size()) == 500);
  CHECK(value_of(c.kv().get("w4-99")) == 99);
}

TEST_CASE("concurrency: 3 threads x 50 service toggles", "[concurrency]") {
  auto rt = start_runtime();
  caf::scoped_actor self{rt->system()};
  subscribe(self, rt->services());
  std::atomic<int> errors{0};
  run_threads(3, [&](int id) {
    client c{*rt};
    auto entry = id == 0 ? "qsfp_service" : id == 1 ? "sai_mono_link_test-sai_impl"
                                                     : "fboss";
    for (int i = 0; i < 50; ++i)
      if (!c.services().set_status(entry, i % 2 == 0))
        ++errors;
  });
  CHECK(errors == 0);
  client c{*rt};
  // qsfp_service and sai start false, so 50 toggles are 50 changes each;
  // fboss is new: 50 changes too (null -> true counts as one).
  auto rev = value_of(c.services().metrics())["revision"].get<uint64_t>();
  CHECK(rev == 150);
  CHECK(gapless(collect(self, 150), 1));
  CHECK_FALSE(value_of(c.services().is_service_running("qsfp_service")));
}

TEST_CASE("concurrency: 3 threads x 20 start/stop, never two tests at once",
          "[concurrency]") {
  auto rt = start_runtime();
  caf::scoped_actor self{rt->system()};
  subscribe(self, rt->test_execution());
  std::atomic<int> completed{0};
  std::atomic<int> refused{0};
  std::atomic<int> errors{0};
  run_threads(3, [&](int id) {
    client c{*rt};
    for (int i = 0; i < 20; ++i) {
      auto pid = 1000 * (id + 1) + i;
      for (;;) {
        auto started = c.tests().start_test("t" + std::to_string(id), pid);
        if (started)
          break;
        if (code_of(started.error()) != errc::already_running) {
          ++errors;
          return;
        }
        ++refused;
        std::this_thread::yield();
      }
      // While ours runs, nobody else's pid can be recorded.
      auto seen = c.tests().get_pid();
      if (!seen || *seen != pid)
        ++errors;
      if (!c.tests().stop_test())
        ++errors;
      ++completed;
    }
  });
  CHECK(errors == 0);
  CHECK(completed == 60);
  // Replay the whole history: running must alternate true/false.
  client c{*rt};
  auto rev = value_of(c.tests().metrics())["revision"].get<uint64_t>();
  auto events = collect(self, rev);
  bool running = false;
  int starts = 0;
  for (auto& ev : events) {
    if (ev.key != "running")
      continue;
    REQUIRE(ev.new_value.get<bool>() != running);
    running = ev.new_value.get<bool>();
    starts += running ? 1 : 0;
  }
  CHECK(starts == 60);
  CHECK_FALSE(running);
}

TEST_CASE("concurrency: 32 threads race start_test, exactly one wins",
          "[concurrency]") {
  auto rt = start_runtime();
  std::atomic<int> won{0};
  std::atomic<int> lost{0};
  std::atomic<int> winner{-1};
  std::vector<std::string> messages(32);
  std::atomic<int> ready{0};
  run_threads(32, [&](int id) {
    client c{*rt};
    // Line up every thread before the race starts.
    ++ready;
    while (ready.load() < 32)
      std::this_thread::yield();
    auto r = c.tests().start_test("race-" + std::to_string(id), id + 1);
    if (r) {
      ++won;
      winner = id;
    } else if (code_of(r.error()) == errc::already_running) {
      ++lost;
      messages[static_cast<size_t>(id)] = message_of(r.error());
    }
  });
  REQUIRE(won == 1);
  CHECK(lost == 31);
  auto name = "race-" + std::to_string(winner.load());
  for (int id = 0; id < 32; ++id)
    if (id != winner)
      CHECK(messages[static_cast<size_t>(id)].find(name) != std::string::npos);
  client c{*rt};
  CHECK(value_of(c.tests().get_script()) == name);
}

TEST_CASE("concurrency: 64 threads x 1000 merge-patch increments lose nothing",
          "[concurrency]") {
  // The old design did get-then-set on one shared dict and lost updates;
  // a merge patch is read-modify-write inside the actor.
  auto rt = start_runtime();
  run_threads(64, [&](int id) {
    client c{*rt};
    auto field = "t" + std::to_string(id);
    for (int i = 1; i <= 1000; ++i)
      value_of(c.kv().merge_patch("counters", {{field, i}}));
  });
  client c{*rt};
  auto doc = value_of(c.kv().get("counters"));
  REQUIRE(doc.size() == 64);
  int total = 0;
  for (auto& [field, n] : doc.items())
    total += n.get<int>();
  CHECK(total == 64000);
  CHECK(value_of(c.kv().fetch("counters")).revision == 64000);
}

TEST_CASE("concurrency: 64 threads increment one counter by conditional set",
          "[concurrency]") {
  auto rt = start_runtime();
  constexpr int per_thread = 100;
  std::atomic<int> conflicts{0};
  run_threads(64, [&](int) {
    client c{*rt};
    auto cur = value_of(c.kv().fetch("n"));
    for (int done = 0; done < per_thread;) {
      auto n = cur.exists ? cur.value.get<int>() : 0;
      auto r = c.kv().set_if("n", n + 1, cur.revision);
      if (r) {
        cur = kv_entry{"n", n + 1, *r, true};
        ++done;
      } else {
        REQUIRE(code_of(r.error()) == errc::conflict);
        ++conflicts;
        cur = value_of(c.kv().fetch("n"));
      }
    }
  });
  client c{*rt};
  CHECK(value_of(c.kv().get("n")) == 64 * per_thread);
  CHECK(value_of(c.kv().metrics())["refused"] == conflicts.load());
}

TEST_CASE("concurrency: a subscriber sees every change in order under 8 writers",
          "[concurrency]") {
  runtime_config cfg;
  cfg.history_capacity = 16;
  auto rt = start_runtime(cfg);
  caf::scoped_actor self{rt->system()};
  subscribe(self, rt->kv());
  run_threads(8, [&](int id) {
    client c{*rt};
    for (int i = 0; i < 500; ++i)
      value_of(c.kv().set("w" + std::to_string(id), i));
  });
  auto events = collect(self, 4000);
  CHECK(gapless(events, 1));
  // Per writer, values arrive in the order written.
  std::map<std::string, int> last;
  for (auto& ev : events) {
    auto v = ev.new_value.get<int>();
    auto [it, added] = last.try_emplace(ev.key, -1);
    REQUIRE(v == it->second + 1);
    it->second = v;
  }
  CHECK(last.size() == 8);
}
