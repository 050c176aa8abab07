#include "labrt/event_stream.hpp"

#include <optional>

#include <caf/actor_system.hpp>
#include <caf/response_promise.hpp>
#include <caf/scoped_actor.hpp>

#include "labrt/errc.hpp"
#include "labrt/interfaces.hpp"
#include "labrt/runtime.hpp"
#include "src/receive_until.hpp"

namespace labrt {

struct event_stream::impl {
  explicit impl(runtime& rt) : hub(rt.events()), self(rt.system()) {
    release_thread_logger(); // Taken by `self`; see runtime.hpp.
  }

  ~impl() {
    // CAF 0.17 leaves a monitor in the observed actor when the observer
    // terminates: the hub would keep an attachable and, through its weak
    // reference, this scoped_actor's whole storage (~0.6 KB) for its life,
    // one per SSE connection and per followed log.
    if (monitored)
      self->demonitor(monitored);
    if (hub)
      self->send(hub, atom::unsubscribe_v,
                 caf::actor_cast<event_sink_actor>(self));
    // CAF 0.17 drops an undelivered promise silently: the hub would wait
    // for this acknowledgement forever, keeping its response handler (and
    // the weak reference to this actor in it). After the unsubscription, so
    // that the hub sends nothing more.
    if (ack)
      ack->deliver(caf::unit);
  }

  event_hub_actor hub;
  caf::scoped_actor self;
  /// The hub while this stream monitors it.
  caf::actor_addr monitored;
  /// The id the stream starts after.
  uint64_t start = 0;
  /// The acknowledgement of the batch handed out last.
  std::optional<caf::response_promise> ack;
};

caf::expected<event_stream> event_stream::open(runtime& rt, uint64_t after,
                                               std::chrono::milliseconds
                                                 timeout) {
  auto d = std::make_unique<impl>(rt);
  if (!d->hub)
    return rt.config().event_hub
             ? make_error(errc::shutting_down, "the runtime has shut down")
             : make_error(errc::invalid_argument,
                          "this runtime has no event hub "
                          "(runtime_config::event_hub is off)");
  caf::error failure = make_error(errc::timeout, "the event hub did not answer");
  auto handle = d->self->request(d->hub, caf::infinite, atom::subscribe_v,
                                 caf::actor_cast<event_sink_actor>(d->self),
                                 after);
  d->self->monitor(d->hub);
  d->monitored = d->hub.address();
  caf::blocking_actor::accept_one_cond cond;
  bool ok = false;
  receive_within(timeout, [&](auto wait) {
    d->self->varargs_receive(
      cond, handle.id(),
      [&](uint64_t last) {
        ok = true;
        d->start = after == events_from_now ? last : after;
      },
      [&](caf::error& err) { failure = std::move(err); }, std::move(wait));
  });
  if (!ok) {
    d->hub = nullptr; // Nothing to unsubscribe from.
    return failure;
  }
  return event_stream{std::move(d)};
}

event_stream::event_stream(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
}

event_stream::event_stream(event_stream&&) noexcept = default;
event_stream& event_stream::operator=(event_stream&&) noexcept = default;
event_stream::~event_stream() = default;

uint64_t event_stream::start() const {
  return impl_->start;
}

caf::expected<event_batch> event_stream::next(std::chrono::milliseconds
                                                timeout) {
  auto& d = *impl_;
  if (d.ack) {
    d.ack->deliver(caf::unit);
    d.ack.reset();
  }
  caf::expected<event_batch> result{event_batch{}};
  d.self->receive(
    [&](event_batch& batch) {
      // Held, not answered: the hub sends more only after the next call.
      d.ack = d.self->make_response_promise();
      result = std::move(batch);
    },
    [&](caf::down_msg&) {
      result = make_error(errc::shutting_down, "the event hub stopped");
    },
    caf::after(timeout) >> [] {});
  return result;
}

} // namespace labrt
