// Extra managers (runtime::spawn_kv ...) stop with the runtime: each is tied
// to an anchor, the runtime's kv store. Internal to the runtime (actors/runtime.cpp).
#pragma once

#include <caf/actor_cast.hpp>
#include <caf/attachable.hpp>
#include <caf/send.hpp>

#include "labrt/errc.hpp"
#include "labrt/interfaces.hpp"

namespace labrt {

/// Stops an extra manager (runtime::spawn_kv ...) when the runtime's kv store,
/// its anchor, stops. The manager detaches it when it ends first, so that
/// many short-lived managers leave nothing behind in the anchor.
class stop_with_anchor : public caf::attachable {
public:
  explicit stop_with_anchor(caf::actor_addr extra) : extra_(std::move(extra)) {
  }

  void actor_exited(const caf::error&, caf::execution_unit*) override {
    if (auto hdl = caf::actor_cast<caf::actor>(extra_))
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  }

  bool matches(const token& what) override {
    return what.subtype == token::anonymous && what.ptr == this;
  }

private:
  caf::actor_addr extra_;
};

template <class Handle>
caf::expected<Handle> tie_to(const kv_store_actor& anchor, Handle extra) {
  if (!anchor) {
    caf::anon_send_exit(extra, caf::exit_reason::user_shutdown);
    return make_error(errc::shutting_down, "the runtime has shut down");
  }
  auto tie = new stop_with_anchor(extra.address());
  caf::attachable::token key{caf::attachable::token::anonymous, tie};
  // An anchor that has already stopped runs the tie at once.
  caf::actor_cast<caf::abstract_actor*>(anchor)->attach(caf::attachable_ptr{tie});
  // Attached second: an extra that has already ended detaches at once.
  caf::actor_cast<caf::abstract_actor*>(extra)->attach_functor(
    [weak = anchor.address(), key] {
      if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(weak))
        strong->get()->detach(key);
    });
  return extra;
}

} // namespace labrt
