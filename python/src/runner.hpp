// The runner and the monitor of a runtime, as Python classes.
#pragma once

#include <memory>


#include "core.hpp"

namespace labrt_python {

/// `f(facade)` through the runtime's client pool, for the facades without
/// a handle of their own.
template <class Facade, Facade& (labrt::client::*Get)() noexcept>
struct facade_user {
  std::shared_ptr<core> owner;

  explicit facade_user(std::shared_ptr<core> o) : owner(std::move(o)) {
  }
  facade_user(const facade_user&) = default;
  ~facade_user() {
    leak_if_forked(owner);
  }

  template <class F>
  auto call(F&& f) {
    return owner->call([&](labrt::client& c) { return f((c.*Get)()); });
  }
};

using runner = facade_user<labrt::runner_facade, &labrt::client::runner>;
using monitor = facade_user<labrt::monitor_facade, &labrt::client::monitor>;

/// Binds Runner and Monitor.
void bind_runner(py::module_& m);

} // namespace labrt_python
