#include "actors/event_hub.hpp"

#include <algorithm>

#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace labrt {

uint64_t event_hub_state::append(std::string kind, const json& data) {
  // Script output may hold invalid UTF-8: replaced, never thrown.
  auto text = data.dump(-1, ' ', false, json::error_handler_t::replace);
  bytes_ += text.size();
  ring_.push_back(event{next_id_, std::move(kind), std::move(text)});
  // The newest event stays even if it alone is over max_bytes_.
  while (ring_.size() > 1
         && (ring_.size() > capacity_ || bytes_ > max_bytes_)) {
    bytes_ -= ring_.front().data.size();
    ring_.pop_front();
    ++dropped_;
  }
  return next_id_++;
}

event_batch event_hub_state::after(
  uint64_t after, size_t max, size_t max_bytes) const {
  event_batch result;
  auto first = ring_.empty() ? next_id_ : ring_.front().id;
  // The next id wanted, within what this hub ever gave.
  auto from = std::min(std::max(after, base_ - 1) + 1, next_id_);
  if (from < first) {
    result.missed = first - from;
    from = first;
  }
  // Ids in the ring are contiguous, so the start is an index, not a search.
  size_t bytes = 0;
  for (auto i = ring_.begin() + static_cast<std::ptrdiff_t>(from - first);
       i != ring_.end() && result.events.size() < max; ++i) {
    bytes += i->data.size();
    if (bytes > max_bytes && !result.events.empty())
      break;
    result.events.push_back(*i);
  }
  return result;
}

event_hub_state::sink event_hub_state::make_sink(event_sink_actor handle,
                                                 uint64_t after) const {
  sink s{std::move(handle)};
  if (after == events_from_now) {
    s.cursor = last_id();
  } else if (after == 0 || (after >= base_ - 1 && after <= last_id())) {
    s.cursor = after;
  } else {
    // Another hub's id (a daemon before its restart): all that is held,
    // and word that the client's view is stale.
    s.stale = true;
  }
  return s;
}

event_batch event_hub_state::next_for(sink& s) {
  auto batch = after(s.cursor);
  if (s.stale) {
    ++batch.missed;
    s.stale = false;
  }
  missed_ += batch.missed;
  s.cursor = batch.events.empty() ? last_id() : batch.events.back().id;
  return batch;
}

json event_hub_state::metrics() const {
  return {{"last_id", last_id()},
          {"held", ring_.size()},
          {"held_bytes", bytes_},
          {"capacity", capacity_},
          {"dropped", dropped_},
          {"missed_by_sinks", missed_},
          {"sinks", sinks_.size()}};
}

namespace {

using self_ptr = event_hub_actor::stateful_pointer<event_hub_state>;

/// Sends a sink its next batch unless one is in flight or nothing is new.
void pump(self_ptr self, const caf::actor_addr& addr) {
  auto i = self->state.sinks_.find(addr);
  if (i == self->state.sinks_.end() || i->second.busy)
    return;
  auto& s = i->second;
  auto batch = self->state.next_for(s);
  if (batch.events.empty() && batch.missed == 0)
    return;
  s.busy = true;
  // No timeout: the sink may wait on a slow socket; monitoring catches death.
  self->request(s.handle, caf::infinite, std::move(batch))
    .then(
      [self, addr] {
        auto j = self->state.sinks_.find(addr);
        if (j != self->state.sinks_.end()) {
          j->second.busy = false;
          pump(self, addr);
        }
      },
      [self, addr](caf::error&) { self->state.sinks_.erase(addr); });
}

void publish(self_ptr self, std::string kind, const json& data) {
  self->state.append(std::move(kind), data);
  for (auto& entry : self->state.sinks_)
    pump(self, entry.first);
}

} // namespace

event_hub_actor::behavior_type event_hub(
  event_hub_actor::stateful_pointer<event_hub_state> self, size_t capacity,
  size_t max_bytes, uint64_t first_id) {
  self->state = event_hub_state{capacity, max_bytes, first_id};
  self->set_down_handler(
    [self](const caf::down_msg& msg) { self->state.sinks_.erase(msg.source); });
  return {
    [self](const change_event& ev) { publish(self, ev.source, json(ev)); },
    [self](const run_update& up) { publish(self, "run", json(up)); },
    [self](output_batch& batch) { publish(self, "output", json(batch)); },
    [self](const queue_update& up) { publish(self, "queue", json(up)); },
    [self](atom::subscribe, event_sink_actor& sink, uint64_t after) {
      auto addr = sink.address();
      self->monitor(sink);
      self->state.sinks_[addr] = self->state.make_sink(std::move(sink), after);
      pump(self, addr);
      return self->state.last_id();
    },
    [self](atom::unsubscribe, const event_sink_actor& sink) {
      self->state.sinks_.erase(sink.address());
    },
    [self](atom::history, uint64_t after) {
      return self->state.held_after(after).events;
    },
    [self](atom::metrics) { return self->state.metrics(); },
  };
}

} // namespace labrt
