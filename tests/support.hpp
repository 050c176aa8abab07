// Helpers shared by the test cases: real runtimes, real threads, deadlines.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/scoped_actor.hpp>
#include <catch2/catch.hpp>

#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/interfaces.hpp"
#include "labrt/runtime.hpp"
#include "src/receive_until.hpp"

namespace labrt::test {

using namespace std::chrono_literals;

/// How long a test waits for an event before it fails.
inline constexpr auto deadline = std::chrono::seconds{10};

/// Polls `pred` until it holds (true) or the deadline passes: for what has
/// no event to wait on, such as a process's end as /proc tells it.
template <class Pred>
bool eventually(Pred pred) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::yield();
  }
  return true;
}

inline std::unique_ptr<runtime> start_runtime(runtime_config cfg = {}) {
  auto rt = runtime::make(std::move(cfg));
  if (!rt)
    FAIL("runtime::make failed: " << render(rt.error()));
  return std::move(*rt);
}

/// Destroys `x` on a thread of its own; false if that has not ended within
/// the deadline. The thread owns all it touches, so a hung one is left
/// behind (detached) and the test fails instead of hanging.
template <class T>
bool destroyed_elsewhere(std::unique_ptr<T> x) {
  std::promise<void> done;
  auto ended = done.get_future();
  std::thread destroyer{[owned = std::move(x), done = std::move(done)]() mutable {
    owned.reset();
    done.set_value();
  }};
  if (ended.wait_for(deadline) != std::future_status::ready) {
    destroyer.detach();
    return false;
  }
  destroyer.join();
  return true;
}

/// The value of `x`, failing the test with the rendered error otherwise.
template <class T>
T value_of(caf::expected<T> x) {
  if (!x)
    FAIL("unexpected error: " << render(x.error()));
  return std::move(*x);
}

/// The labrt code of a result that must be an error.
template <class T>
errc error_of(const caf::expected<T>& x) {
  if (x)
    FAIL("expected an error, got a value");
  return code_of(x.error());
}

/// Subscribes `self` to `manager` from revision `from`.
template <class Handle>
subscription subscribe(caf::scoped_actor& self, const Handle& manager,
                       uint64_t from = 0) {
  subscription result;
  bool ok = false;
  self
    ->request(manager, deadline, atom::subscribe_v,
              caf::actor_cast<subscriber_actor>(self), from)
    .receive(
      [&](subscription& sub) {
        result = sub;
        ok = true;
      },
      [&](caf::error& err) { FAIL("subscribe failed: " << render(err)); });
  REQUIRE(ok);
  return result;
}

/// Receives `n` change events, failing if they do not arrive in time.
inline std::vector<change_event> collect(caf::scoped_actor& self, size_t n) {
  std::vector<change_event> result;
  while (result.size() < n) {
    bool got = receive_within(deadline, [&](auto wait) {
      self->receive([&](change_event& ev) { result.push_back(std::move(ev)); },
                    std::move(wait));
    });
    if (!got)
      FAIL("got " << result.size() << " of " << n << " events in time");
  }
  return result;
}

/// Whether `events` carry consecutive revisions starting at `first`.
inline bool gapless(const std::vector<change_event>& events, uint64_t first) {
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].revision != first + i)
      return false;
  return true;
}

} // namespace labrt::test
