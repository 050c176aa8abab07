#include "feeds.hpp"

#include <thread>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "convert.hpp"
#include "labrt/errc.hpp"
#include "labrt/runtime.hpp"

namespace labrt_python {

namespace {

using clock = std::chrono::steady_clock;

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds{static_cast<int64_t>(seconds * 1000)};
}

/// Subscribes `self` to `feed` and waits for the answer.
void follow(core& owner, caf::scoped_actor& self, const labrt::feed_actor& feed,
            const labrt::subscriber_actor& sub, std::optional<uint64_t> since) {
  caf::error failure = labrt::make_error(labrt::errc::timeout,
                                         "the manager did not answer");
  bool ok = false;
  {
    py::gil_scoped_release nogil;
    auto handle = self->request(feed, caf::infinite, labrt::atom::subscribe_v, sub,
                                since ? *since : ~uint64_t{0});
    caf::blocking_actor::accept_one_cond cond;
    self->varargs_receive(
      cond, handle.id(), [&](const labrt::subscription&) { ok = true; },
      [&](caf::error& err) { failure = std::move(err); },
      caf::after(owner.timeout()) >> [] {});
  }
  if (!ok)
    raise(failure);
}

/// A blocking subscriber: the iterator's mailbox holds what it has not read.
class event_iterator : public closable {
public:
  event_iterator(std::shared_ptr<core> owner, labrt::feed_actor feed,
                 std::optional<double> timeout)
    : owner_(std::move(owner)), feed_(std::move(feed)), timeout_(timeout),
      self_(std::make_unique<caf::scoped_actor>(owner_->rt().system())) {
    // The interpreter may drop the runtime on another thread (runtime.hpp).
    labrt::release_thread_logger();
  }

  ~event_iterator() override {
    leak_if_forked(owner_, feed_, self_);
    if (owner_)
      close();
  }

  void open(std::optional<uint64_t> since) {
    (*self_)->monitor(feed_);
    follow(*owner_, *self_, feed_,
           caf::actor_cast<labrt::subscriber_actor>(*self_), since);
  }

  /// The next change, or None after `timeout` seconds without one; None
  /// also once closed or the manager stopped.
  py::object next(std::optional<double> timeout) {
    if (!self_)
      return py::none();
    owner_->check();
    if (busy_)
      throw std::runtime_error("another thread is reading this iterator");
    busy_ = true;
    std::optional<labrt::change_event> event;
    bool down = false;
    auto deadline = timeout ? clock::now() + millis(*timeout) : clock::time_point::max();
    auto& self = *self_;
    bool ok = wait_released(*owner_, deadline, [&](std::chrono::milliseconds slice) {
      self->receive([&](labrt::change_event& ev) { event = std::move(ev); },
                    [&](caf::down_msg&) { down = true; },
                    caf::after(slice) >> [] {});
      return event || down;
    });
    busy_ = false;
    if (!ok)
      throw py::error_already_set();
    if (down)
      close();
    return event ? record(*event) : py::none();
  }

  py::object iter_next() {
    auto result = next(timeout_);
    if (result.is_none())
      throw py::stop_iteration();
    return result;
  }

  void close() override {
    if (!self_ || busy_ || owner_->forked())
      return;
    auto& self = *self_;
    // CAF 0.17 keeps a monitor in the observed actor after the observer
    // ends, and with it this actor's storage.
    self->demonitor(feed_.address());
    self->send(feed_, labrt::atom::unsubscribe_v,
               caf::actor_cast<labrt::subscriber_actor>(self));
    self_.reset();
  }

private:
  std::shared_ptr<core> owner_;
  labrt::feed_actor feed_;
  std::optional<double> timeout_;
  std::unique_ptr<caf::scoped_actor> self_;
  bool busy_ = false;
};

/// The Python callable of a subscription, released with the GIL held
/// (from the subscriber's thread). Counted in live_callbacks until then, so
/// that interpreter exit waits for it; leaked if Python is gone anyway.
struct callback_box {
  py::object fn;
  std::thread::id thread;

  callback_box() {
    ++live_callbacks;
  }

  ~callback_box() {
    if (Py_IsInitialized() && !python_finalizing()) {
      py::gil_scoped_acquire gil;
      fn = py::object();
    } else {
      fn.release();
    }
    --live_callbacks;
  }
};

/// A detached actor calls the callback: the callback may call labrt
/// itself, which on a scheduler thread would wait for that very thread.
class callback_subscription : public closable {
public:
  callback_subscription(std::shared_ptr<core> owner, labrt::feed_actor feed,
                        py::function fn)
    : owner_(std::move(owner)), feed_(std::move(feed)) {
    auto box = std::make_shared<callback_box>();
    box->fn = std::move(fn);
    box_ = box;
    sub_ = owner_->rt().system().spawn<caf::detached>(
      [box](caf::event_based_actor*) -> caf::behavior {
        return {[box](labrt::change_event& ev) {
          hold_if_finalizing();
          py::gil_scoped_acquire gil;
          box->thread = std::this_thread::get_id();
          try {
            box->fn(record(ev));
          } catch (py::error_already_set& err) {
            err.discard_as_unraisable("labrt subscription callback");
          }
        }};
      });
    labrt::release_thread_logger(); // As in event_iterator.
  }

  ~callback_subscription() override {
    leak_if_forked(owner_, feed_, sub_);
    if (owner_)
      close();
  }

  void open(std::optional<uint64_t> since) {
    caf::scoped_actor self{owner_->rt().system()};
    labrt::release_thread_logger(); // As in event_iterator.
    follow(*owner_, self, feed_, caf::actor_cast<labrt::subscriber_actor>(sub_),
           since);
  }

  /// Returns once the callback has run for the last time (unless called
  /// from the callback itself).
  void close() override {
    if (!sub_ || owner_->forked())
      return;
    caf::anon_send(feed_, labrt::atom::unsubscribe_v,
                   caf::actor_cast<labrt::subscriber_actor>(sub_));
    auto box = box_.lock();
    bool inside = box && box->thread == std::this_thread::get_id();
    {
      py::gil_scoped_release nogil;
      caf::scoped_actor self{owner_->system()};
      labrt::release_thread_logger(); // As in event_iterator.
      self->monitor(sub_);
      self->send_exit(sub_, caf::exit_reason::user_shutdown);
      if (!inside)
        self->receive([](caf::down_msg&) {}, caf::after(owner_->timeout()) >> [] {});
    }
    sub_ = nullptr;
  }

  bool closed() const {
    return !sub_;
  }

private:
  std::shared_ptr<core> owner_;
  labrt::feed_actor feed_;
  caf::actor sub_;
  std::weak_ptr<callback_box> box_;
};

} // namespace

py::object open_events(const std::shared_ptr<core>& owner, labrt::feed_actor feed,
                       std::optional<uint64_t> since, std::optional<double> timeout) {
  auto it = std::make_shared<event_iterator>(owner, std::move(feed), timeout);
  it->open(since);
  owner->track(it);
  return py::cast(it);
}

py::object subscribe(const std::shared_ptr<core>& owner, labrt::feed_actor feed,
                     py::function fn, std::optional<uint64_t> since) {
  auto sub = std::make_shared<callback_subscription>(owner, std::move(feed),
                                                     std::move(fn));
  sub->open(since);
  owner->track(sub);
  return py::cast(sub);
}

void bind_feeds(py::module_& m) {
  py::class_<event_iterator, std::shared_ptr<event_iterator>>(
    m, "EventIterator",
    "A manager's changes as dicts {source, key, old, new, revision, time}; "
    "what is not read yet waits in memory.")
    .def("__iter__", [](py::object self) { return self; })
    .def("__next__", &event_iterator::iter_next)
    .def("get", &event_iterator::next, py::arg("timeout") = py::none(),
         "The next change, or None after `timeout` seconds without one.")
    .def("close", &event_iterator::close)
    .def("__enter__", [](py::object self) { return self; })
    .def("__exit__", [](event_iterator& self, py::args) { self.close(); });
  py::class_<callback_subscription, std::shared_ptr<callback_subscription>>(
    m, "Subscription", "A callback for a manager's changes; close() ends it.")
    .def("close", &callback_subscription::close)
    .def_property_readonly("closed", &callback_subscription::closed)
    .def("__enter__", [](py::object self) { return self; })
    .def("__exit__", [](callback_subscription& self, py::args) { self.close(); });
}

} // namespace labrt_python
