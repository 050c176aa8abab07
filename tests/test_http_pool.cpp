// The server's worker pool: it grows past its core for connections that stay
// open, and the threads it added end with them (each holds a malloc cache).
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "http_support.hpp"
#include "src/http/worker_pool.hpp"

using namespace labrt;
using namespace labrt::test;
using labrt::http::worker_pool;

namespace {

/// Tasks check in and wait until the test opens the gate.
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  size_t arrived = 0;
  size_t left = 0;
  bool open = false;

  void pass() {
    std::unique_lock<std::mutex> lock{mtx};
    ++arrived;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
    ++left;
    cv.notify_all();
  }
  void let_through() {
    std::lock_guard<std::mutex> lock{mtx};
    open = true;
    cv.notify_all();
  }
  bool wait_arrived(size_t n) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, deadline, [&] { return arrived >= n; });
  }
  bool wait_left(size_t n) {
    std::unique_lock<std::mutex> lock{mtx};
    return cv.wait_for(lock, deadline, [&] { return left >= n; });
  }
};

size_t threads_of_this_process() {
  namespace fs = std::filesystem;
  auto tasks = fs::directory_iterator{"/proc/self/task"};
  return static_cast<size_t>(std::distance(fs::begin(tasks), fs::end(tasks)));
}

} // namespace

TEST_CASE(
  "worker pool: grows past its core while tasks wait, then shrinks", "[http]") {
  // TSan's runtime starts a thread of its own with the process's second;
  // one kept alive meanwhile makes the count steady (a joined one may
  // still be listed for a moment).
  std::promise<void> done;
  std::thread second{[f = done.get_future()]() mutable { f.wait(); }};
  auto before = threads_of_this_process();
  worker_pool pool{2, 4};
  CHECK(threads_of_this_process() == before + 2);
  gate g;
  for (int i = 0; i < 5; ++i)
    pool.enqueue([&] { g.pass(); });
  // Four run at once: the core and two threads of their own. The fifth
  // waits for a core thread, the limit being reached.
  REQUIRE(g.wait_arrived(4));
  CHECK(pool.extra_threads() == 2);
  CHECK(threads_of_this_process() == before + 4);
  g.let_through();
  REQUIRE(g.wait_left(5));
  CHECK(eventually([&] {
    pool.on_idle();
    return pool.extra_threads() == 0;
  }));
  CHECK(eventually([&] { return threads_of_this_process() == before + 2; }));
  pool.shutdown();
  // A joined thread may still be listed for a moment as the kernel ends it.
  CHECK(eventually([&] { return threads_of_this_process() == before; }));
  done.set_value();
  second.join();
}

TEST_CASE(
  "worker pool: shutdown runs what is queued and waits for it", "[http]") {
  worker_pool pool{1, 2};
  gate g;
  for (int i = 0; i < 5; ++i)
    pool.enqueue([&] { g.pass(); });
  REQUIRE(g.wait_arrived(2));
  g.let_through();
  pool.shutdown();
  CHECK(g.left == 5);
}

TEST_CASE("the API holds more streams than its core threads, whose extra "
          "threads end with them",
  "[http]") {
  api server;
  REQUIRE(server.connect().Get("/healthz"));
  auto before = threads_of_this_process();
  constexpr size_t streams = 12; // Over the core of eight.
  gate g;
  std::vector<std::thread> readers;
  for (size_t i = 0; i < streams; ++i)
    readers.emplace_back([&] {
      auto cli = server.connect();
      bool seen = false;
      cli.Get("/api/events?after=" + std::to_string(events_from_now),
        [&](const char*, size_t) {
          if (!std::exchange(seen, true))
            g.pass();
          return false;
        });
    });
  CHECK(g.wait_arrived(streams));
  g.let_through();
  for (auto& t : readers)
    t.join();
  // A stream finds its reader gone when it writes to it: events make it
  // write (the first write after a close draws the reset, the next fails).
  auto cli = server.connect();
  CHECK(eventually([&] {
    cli.Put("/api/kv/tick", "1", "application/json");
    return threads_of_this_process() <= before;
  }));
}

TEST_CASE("worker pool: goes quiet once after each burst", "[http]") {
  size_t quiet = 0;
  worker_pool pool{1, 2, [&] { ++quiet; }};
  pool.on_idle();
  CHECK(quiet == 0); // Nothing came yet.
  gate g;
  g.let_through();
  for (int i = 0; i < 3; ++i)
    pool.enqueue([&] { g.pass(); });
  REQUIRE(g.wait_left(3));
  pool.on_idle();
  pool.on_idle();
  CHECK(quiet == 1);
  pool.enqueue([&] { g.pass(); });
  REQUIRE(g.wait_left(4));
  pool.on_idle();
  CHECK(quiet == 2);
}
