// The managers as Python classes: KvStore, ServiceStatus, TestExecution.
#pragma once

#include <memory>

#include <caf/actor_cast.hpp>

#include "core.hpp"
#include "labrt/interfaces.hpp"

namespace labrt_python {

inline labrt::kv_facade facade_of(labrt::client& c, labrt::kv_store_actor h) {
  return c.kv(std::move(h));
}

inline labrt::service_facade facade_of(labrt::client& c,
                                       labrt::service_status_actor h) {
  return c.services(std::move(h));
}

inline labrt::test_facade facade_of(labrt::client& c,
                                    labrt::test_execution_actor h) {
  return c.tests(std::move(h));
}

/// A manager of one runtime: one of its own (`own` set, from
/// runtime::spawn_*) or the runtime's (`own` null, `Main` names it).
template <class Handle, const Handle& (labrt::runtime::*Main)() const noexcept>
struct manager {
  std::shared_ptr<core> owner;
  Handle own;

  manager(std::shared_ptr<core> o, Handle h)
    : owner(std::move(o)), own(std::move(h)) {
  }
  manager(const manager&) = default;
  ~manager() {
    leak_if_forked(owner, own);
  }

  labrt::feed_actor feed() {
    return caf::actor_cast<labrt::feed_actor>(own ? own : (owner->rt().*Main)());
  }

  /// `f(facade)` through the runtime's client pool.
  template <class F>
  auto call(F&& f) {
    return owner->call([&](labrt::client& c) {
      auto facade = facade_of(c, own);
      return f(facade);
    });
  }
};

using kv_store = manager<labrt::kv_store_actor, &labrt::runtime::kv>;
using service_status = manager<labrt::service_status_actor, &labrt::runtime::services>;
using test_execution
  = manager<labrt::test_execution_actor, &labrt::runtime::test_execution>;

/// Binds Entry, Snapshot, KvStore, ServiceStatus and TestExecution.
void bind_managers(py::module_& m);

} // namespace labrt_python
