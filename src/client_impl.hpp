// The inside of labrt::client, shared by the facades of src/client.cpp and
// src/client_runner.cpp.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/interfaces.hpp"
#include "labrt/runtime.hpp"
#include "src/receive_until.hpp"

namespace labrt {

struct client::impl {
  impl(runtime& r, std::chrono::milliseconds t)
    : rt(r), self(r.system()), timeout(t) {
    release_thread_logger(); // Taken by `self`; see runtime.hpp.
  }

  /// One blocking request; a timeout or a dead manager comes back as an error.
  ///
  /// CAF 0.17's own request timeout is not used: a blocking actor never
  /// cancels it, so every answered request leaves a stale timeout message in
  /// the mailbox that each later receive must skip: throughput falls with
  /// every call made (bench/README.md).
  /// Waiting with `after` on the response id costs nothing per call.
  template <class R, class Handle, class... Ts>
  caf::expected<R> call(const Handle& dest, Ts&&... xs) {
    return call_for<R>(timeout, dest, std::forward<Ts>(xs)...);
  }

  /// `call` with its own timeout, for calls that may take long. With a
  /// `keep_waiting` hook it waits in slices and asks the hook between them.
  template <class R, class Handle, class... Ts>
  caf::expected<R> call_for(std::chrono::milliseconds limit,
                            const Handle& dest, Ts&&... xs) {
    if (!dest)
      return make_error(errc::shutting_down, "the runtime has shut down");
    std::optional<caf::expected<R>> result;
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    caf::blocking_actor::accept_one_cond cond;
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto until = keep_waiting
                     ? std::min(deadline, std::chrono::steady_clock::now() + slice)
                     : deadline;
      if (receive_until(until, [&](auto wait) {
            self->varargs_receive(
              cond, handle.id(), [&](R& x) { result = std::move(x); },
              [&](caf::error& err) { result = std::move(err); },
              std::move(wait));
          }))
        return std::move(*result);
      if (std::chrono::steady_clock::now() >= deadline)
        return make_error(errc::timeout, "no response within "
                                           + std::to_string(limit.count())
                                           + " ms");
      if (!keep_waiting())
        return make_error(errc::timeout, "interrupted while waiting");
    }
  }

  runtime& rt;
  caf::scoped_actor self;
  std::chrono::milliseconds timeout;
  std::chrono::milliseconds slice{0};
  std::function<bool()> keep_waiting;
};

/// The facades' way in to a client's impl.
struct client_access {
  static client::impl& of(client& c) noexcept {
    return *c.impl_;
  }
};

} // namespace labrt
