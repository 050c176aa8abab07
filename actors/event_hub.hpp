// The event hub: one numbered stream of every change and every run's output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>

#include "labrt/interfaces.hpp"

namespace labrt {

/// State of the event hub.
///
/// Events get ids first, first + 1, ... in arrival order and live in a
/// bounded ring. The runtime starts them at its start time in microseconds,
/// so ids keep growing across restarts of a daemon: an id a client kept from
/// before a restart is one this hub never gave, and the client is told it
/// missed events (so it reloads) instead of resuming at a position that
/// meant something else.
/// Each sink has a cursor (the last id it was sent) and at most one batch in
/// flight: it gets the next batch when it acknowledged the previous one. A
/// sink that reads slower than events arrive therefore holds no memory of its
/// own; it falls behind the ring and its next batch says how many it missed.
struct event_hub_state {
  static inline const char* name = "labrt.event_hub";

  /// Largest batch sent to a sink at once, in events and in data bytes: a
  /// sink resuming far back would otherwise get most of the ring in one
  /// message, copied and formatted per reader. An event over the byte bound
  /// goes alone.
  static constexpr size_t max_batch = 512;
  static constexpr size_t max_batch_bytes = 256 << 10;

  struct sink {
    event_sink_actor handle;
    uint64_t cursor = 0; ///< Last id sent.
    bool busy = false;   ///< A batch awaits its acknowledgement.
    bool stale = false;  ///< Came with another hub's id: owes it a missed.
  };

  event_hub_state(size_t capacity = 4096, size_t max_bytes = 8 << 20,
                  uint64_t first_id = 1)
    : capacity_(capacity), max_bytes_(max_bytes), base_(first_id),
      next_id_(first_id) {
  }

  /// Appends an event (serialising `data` once), then drops the oldest ones
  /// while more than capacity_ events or max_bytes_ bytes are held. Returns
  /// the new event's id.
  uint64_t append(std::string kind, const json& data);

  /// The held events after `after` (at most `max`, and at most `max_bytes`
  /// of data unless the first alone is over it), and how many events after
  /// `after` the ring no longer holds. An `after` below the first id (0,
  /// say) means from the first event.
  event_batch after(uint64_t after, size_t max = max_batch,
    size_t max_bytes = max_batch_bytes) const;

  /// All the held events after `after`, in one batch (a history request).
  event_batch held_after(uint64_t after) const {
    return this->after(after, SIZE_MAX, SIZE_MAX);
  }

  /// A new sink whose client saw the events up to `after` (events_from_now:
  /// none of those held, 0: none at all).
  sink make_sink(event_sink_actor handle, uint64_t after) const;

  /// The next batch for `s`, which it is then sent (its cursor moves on).
  event_batch next_for(sink& s);

  /// The id of the newest event (first id - 1 before the first).
  uint64_t last_id() const noexcept {
    return next_id_ - 1;
  }

  json metrics() const;

  size_t capacity_;
  size_t max_bytes_;
  size_t bytes_ = 0; ///< Data bytes held in the ring.
  std::deque<event> ring_;
  uint64_t base_;    ///< The first id.
  uint64_t next_id_;
  uint64_t dropped_ = 0; ///< Events pushed out of the ring.
  uint64_t missed_ = 0;  ///< Events sinks lost because they lagged.
  std::map<caf::actor_addr, sink> sinks_;
};

/// The runtime subscribes it to every manager's feed and to the runner's
/// output before anyone can read from it.
event_hub_actor::behavior_type
event_hub(event_hub_actor::stateful_pointer<event_hub_state> self,
          size_t capacity, size_t max_bytes, uint64_t first_id);

} // namespace labrt
