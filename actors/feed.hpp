// Change-event fan-out shared by the managers.
#pragma once

#include <algorithm>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "src/change_log.hpp"
#include "labrt/interfaces.hpp"

namespace labrt {

/// The subscribers of one manager. Each change the manager's `change_log`
/// records is sent to all of them from the manager itself, so every
/// subscriber sees changes in revision order (CAF keeps per-sender order).
/// Dead subscribers are dropped through monitoring.
class feed {
public:
  /// Routes every change of `log` to the subscribers, sent by `self`.
  template <class Self>
  void attach(Self* self, change_log& log) {
    log.set_observer([this, self, &log](const change_record& rec) {
      // Values are copied into an event only when someone listens.
      if (subs_.empty())
        return;
      auto ev = log.event(rec);
      for (auto& sub : subs_)
        self->send(sub, ev);
    });
    self->set_down_handler(
      [this](const caf::down_msg& msg) { remove(msg.source); });
  }

  /// Replays what `log` holds after `from`, then adds `sub` for live changes.
  template <class Self>
  subscription subscribe(Self* self, subscriber_actor sub, uint64_t from,
                         const change_log& log) {
    remove(sub.address());
    subscription result{0, log.revision(), log.holds_since(from)};
    for (auto& ev : log.since(from)) {
      if (result.first == 0)
        result.first = ev.revision;
      self->send(sub, ev);
    }
    self->monitor(sub);
    subs_.push_back(std::move(sub));
    return result;
  }

  void remove(const caf::actor_addr& addr) {
    subs_.erase(std::remove_if(subs_.begin(), subs_.end(),
                               [&](const auto& s) { return s == addr; }),
                subs_.end());
  }

  size_t size() const noexcept {
    return subs_.size();
  }

private:
  std::vector<subscriber_actor> subs_;
};

/// A manager's behavior: its own handlers plus the feed_actor handlers over
/// the state's `log_` and `feed_`.
template <class Behavior, class Self, class... Handlers>
Behavior with_feed(Self* self, Handlers... handlers) {
  auto& st = self->state;
  st.feed_.attach(self, st.log_);
  return {
    std::move(handlers)...,
    [self](atom::subscribe, subscriber_actor& sub, uint64_t from) {
      auto& s = self->state;
      return s.feed_.subscribe(self, std::move(sub), from, s.log_);
    },
    [self](atom::unsubscribe, const subscriber_actor& sub) {
      self->state.feed_.remove(sub.address());
    },
    [self](atom::history, uint64_t since) {
      return self->state.log_.since(since);
    },
    [self](atom::metrics) {
      auto result = self->state.log_.metrics();
      result["subscribers"] = self->state.feed_.size();
      return result;
    },
  };
}

} // namespace labrt
