// A manager's change events in Python: an iterator, and a callback that a
// thread of its own runs.
#pragma once

#include <memory>
#include <optional>

#include "convert.hpp"
#include "core.hpp"
#include "labrt/interfaces.hpp"

namespace labrt_python {

/// Binds EventIterator and Subscription.
void bind_feeds(py::module_& m);

/// The changes after revision `since` (None: only new ones) as an iterator;
/// `timeout` (seconds) ends the iteration after that long without one.
py::object open_events(const std::shared_ptr<core>& owner, labrt::feed_actor feed,
                       std::optional<uint64_t> since, std::optional<double> timeout);

/// Calls `fn(event)` for every change after `since` (None: only new ones)
/// on a thread of its own, until the returned Subscription is closed.
py::object subscribe(const std::shared_ptr<core>& owner, labrt::feed_actor feed,
                     py::function fn, std::optional<uint64_t> since);

/// The binding of history, metrics, events and subscribe for a manager
/// class with `call(f)` and `feed()`.
template <class Manager, class Class>
void bind_feed_methods(Class& cls) {
  cls.def("history",
          [](Manager& self, uint64_t since) {
            return records(self.call([&](auto& f) { return f.history(since); }));
          },
          py::arg("since") = 0,
          "The changes after revision `since` that the history still holds.")
    .def("metrics",
         [](Manager& self) {
           return to_py(self.call([](auto& f) { return f.metrics(); }));
         })
    .def("events",
         [](Manager& self, std::optional<uint64_t> since,
            std::optional<double> timeout) {
           return open_events(self.owner, self.feed(), since, timeout);
         },
         py::arg("since") = py::none(), py::arg("timeout") = py::none(),
         "An iterator over the changes after revision `since` (None: from "
         "now); with a timeout it ends after that many seconds without one.")
    .def("subscribe",
         [](Manager& self, py::function fn, std::optional<uint64_t> since) {
           return subscribe(self.owner, self.feed(), std::move(fn), since);
         },
         py::arg("callback"), py::arg("since") = py::none(),
         "Calls callback(event) on a thread of its own for every change; "
         "close the returned Subscription to stop.");
}

} // namespace labrt_python
