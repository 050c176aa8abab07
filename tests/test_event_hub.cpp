// The event hub's state, without actors: what a sink is sent, and when.
#include "actors/event_hub.hpp"

#include <string>

#include "support.hpp"

using namespace labrt;

namespace {

/// Appends `n` output-like events whose data is about `size` bytes each.
void append_events(event_hub_state& hub, int n, size_t size) {
  for (int i = 0; i < n; ++i)
    hub.append("output", json(std::string(size, 'x')));
}

} // namespace

TEST_CASE("event hub: a batch is bounded in bytes, so a sink far behind "
          "gets the ring in pieces",
  "[feed]") {
  event_hub_state hub;
  append_events(hub, 10, 100 << 10);
  // 100 KiB each: two fit in a batch, a third would pass the bound.
  CHECK(hub.after(0).events.size() == 2);
  auto s = hub.make_sink({}, 0);
  uint64_t expected = 1;
  int batches = 0;
  for (auto batch = hub.next_for(s); !batch.events.empty();
       batch = hub.next_for(s), ++batches) {
    CHECK(batch.missed == 0);
    for (auto& ev : batch.events)
      CHECK(ev.id == expected++);
  }
  CHECK(expected == 11);
  CHECK(batches == 5);
  // The history request still gets everything held, in one answer.
  CHECK(hub.held_after(0).events.size() == 10);
}

TEST_CASE("event hub: an event over the byte bound goes alone", "[feed]") {
  event_hub_state hub;
  append_events(hub, 1, 300 << 10);
  append_events(hub, 1, 10);
  auto first = hub.after(0);
  REQUIRE(first.events.size() == 1);
  CHECK(first.events[0].id == 1);
  auto second = hub.after(1);
  REQUIRE(second.events.size() == 1);
  CHECK(second.events[0].id == 2);
}

TEST_CASE("event hub: small events are bounded by count", "[feed]") {
  event_hub_state hub;
  append_events(hub, 600, 10);
  CHECK(hub.after(0).events.size() == event_hub_state::max_batch);
  CHECK(hub.held_after(0).events.size() == 600);
}
