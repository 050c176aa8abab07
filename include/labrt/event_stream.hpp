// The runtime's event stream for a thread that is not an actor.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include <caf/expected.hpp>

#include "labrt/types.hpp"

namespace labrt {

class runtime;

/// Follows the event hub from one thread (an SSE handler, a CLI): the events
/// after an id, then every new one. It acknowledges a batch only when asked
/// for the next, so a reader that stalls holds nothing in memory; it falls
/// behind the hub's history and the next batch says how many it missed.
class event_stream {
public:
  /// Subscribes to the events after id `after` (0: all the hub still holds;
  /// events_from_now: only new ones).
  static caf::expected<event_stream>
  open(runtime& rt, uint64_t after = 0,
       std::chrono::milliseconds timeout = std::chrono::seconds{5});

  event_stream(event_stream&&) noexcept;
  event_stream& operator=(event_stream&&) noexcept;
  ~event_stream();

  /// The next batch, or an empty one if nothing came within `timeout`.
  /// `errc::shutting_down` once the runtime stops.
  caf::expected<event_batch> next(std::chrono::milliseconds timeout);

  /// The id this stream starts after: `after`, or for events_from_now the
  /// hub's last id when it opened.
  uint64_t start() const;

  struct impl;

private:
  explicit event_stream(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

} // namespace labrt
