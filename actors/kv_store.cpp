#include "actors/kv_store.hpp"

#include <caf/actor_system.hpp>
#include <caf/response_promise.hpp>

namespace labrt {

// -- actor --------------------------------------------------------------------

namespace {

using kv_self = kv_store_actor::stateful_pointer<kv_store_state>;

/// Applies `p` and answers with `reply()` (the result read after applying).
/// With a database, `p` is committed first and the mailbox waits for the
/// commit (await): no later message can see, or build on, a revision that
/// is not on disk. A failed commit changes nothing and answers its error.
template <class T, class Reply>
caf::result<T> commit(kv_self self, caf::expected<kv_store_state::plan> p,
                      Reply reply) {
  if (!p)
    return std::move(p.error());
  auto& st = self->state;
  if (!st.db_ || p->changes.empty()) {
    st.apply(*p);
    return reply();
  }
  auto rp = self->make_response_promise<T>();
  auto revision = st.log_.revision() + p->changes.size();
  // No timeout: one that fired could leave on disk a commit the store never
  // applied, and hand its revision out again. A stuck disk shows as the
  // facade's timeout and as the persistence actor's storage state.
  self->request(st.db_, caf::infinite, atom::commit_v, st.writes_of(*p),
                revision)
    .await(
      [self, rp, applied = std::move(*p), reply](uint64_t) mutable {
        self->state.apply(applied);
        rp.deliver(reply());
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

kv_store_actor::behavior_type kv_behavior(kv_self self) {
  auto revision = [self] { return self->state.log_.revision(); };
  auto erased = [] { return true; };
  return with_feed<kv_store_actor::behavior_type>(
    self,
    [self](atom::get, const std::string& key, const json& fallback) {
      return self->state.get(key, fallback);
    },
    [self](atom::fetch, const std::string& key) {
      return self->state.fetch(key);
    },
    [self, revision](atom::set, const std::string& key, json& value) {
      return commit<uint64_t>(self, self->state.plan_set(key, std::move(value)),
                              revision);
    },
    [self, revision](atom::set, const std::string& key, json& value,
                     uint64_t expected) {
      return commit<uint64_t>(
        self, self->state.plan_set(key, std::move(value), expected), revision);
    },
    [self, revision](atom::update, json& items) {
      return commit<uint64_t>(self, self->state.plan_update(std::move(items)),
                              revision);
    },
    [self, erased](atom::erase, const std::string& key) -> caf::result<bool> {
      auto p = self->state.plan_erase(key);
      if (p && p->changes.empty())
        return false;
      return commit<bool>(self, std::move(p), erased);
    },
    [self, erased](atom::erase, const std::string& key,
                   uint64_t expected) -> caf::result<bool> {
      auto p = self->state.plan_erase(key, expected);
      if (p && p->changes.empty())
        return false;
      return commit<bool>(self, std::move(p), erased);
    },
    [self](atom::patch, const std::string& key, const json& doc,
           patch_format format) {
      return commit<kv_entry>(self, self->state.plan_patch(key, doc, format),
                              [self, key] { return self->state.entry(key); });
    },
    [self](atom::patch, const std::string& key, const json& doc,
           patch_format format, uint64_t expected) {
      return commit<kv_entry>(self,
                              self->state.plan_patch(key, doc, format,
                                                     expected),
                              [self, key] { return self->state.entry(key); });
    },
    [self](atom::contains, const std::string& key) {
      return self->state.contains(key);
    },
    [self](atom::count) { return self->state.count(); },
    [self](atom::list_keys) { return self->state.keys(); },
    [self](atom::list_values) { return self->state.values(); },
    [self](atom::get_all) { return self->state.items(); },
    [self](atom::snapshot) { return self->state.snapshot(); },
    [self](atom::snapshot, const std::string& prefix) {
      return self->state.snapshot(prefix);
    },
    [self, revision](atom::clear) {
      return commit<uint64_t>(self, self->state.plan_clear(), revision);
    },
    [self, revision](atom::clear, const std::string& prefix) {
      return commit<uint64_t>(self, self->state.plan_clear(prefix), revision);
    });
}

} // namespace

kv_store_actor::behavior_type
kv_store(kv_store_actor::stateful_pointer<kv_store_state> self, limits bounds,
         size_t history) {
  auto& st = self->state;
  st.bounds_ = bounds;
  st.log_.set_capacity(history);
  return kv_behavior(self);
}

kv_store_actor::behavior_type
durable_kv_store(kv_store_actor::stateful_pointer<kv_store_state> self,
                 limits bounds, size_t history, kv_image image,
                 persistence_actor db) {
  auto& st = self->state;
  st.bounds_ = bounds;
  st.log_.set_capacity(history);
  st.load(std::move(image));
  st.db_ = std::move(db);
  return kv_behavior(self);
}

} // namespace labrt
