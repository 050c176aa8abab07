#include "actors/kv_store.hpp"

#include <caf/actor_system.hpp>
#include <caf/response_promise.hpp>

namespace labrt {

// -- actor --------------------------------------------------------------------

namespace {

using kv_self = kv_store_actor::stateful_pointer<kv_store_state>;
using plan = kv_store_state::plan;

/// Commits the batch of waiting requests, unless one is in flight. The
/// mailbox keeps running meanwhile: what arrives queues for the next
/// batch, so a lone write commits at once and a burst shares commits.
/// No timeout: one that fired could leave on disk a commit the store never
/// applied, and hand its revision out again. A stuck disk shows as the
/// facade's timeout and as the persistence actor's storage state.
void pump(kv_self self) {
  auto& st = self->state;
  if (st.committing_)
    return;
  auto writes = st.form_batch();
  if (writes.empty())
    return;
  st.committing_ = true;
  auto revision = writes.back().revision;
  auto done = [self](const caf::error& err) {
    self->state.committing_ = false;
    self->state.finish_batch(err);
    pump(self);
  };
  self->request(st.db_, caf::infinite, atom::commit_v, std::move(writes),
                revision)
    .then([done](uint64_t) { done(caf::error{}); },
          [done](caf::error& err) { done(err); });
}

/// A write: `planner` checks it and says what it changes, `reply(p)` the
/// answer once plan `p` is applied. With a database, a plan is committed
/// before it is applied and answered, so nothing the store shows, or
/// builds on, is missing on disk; a failed commit changes nothing and
/// answers its error.
template <class T, class Planner, class Reply>
caf::result<T> write(kv_self self, Planner planner, Reply reply) {
  auto& st = self->state;
  if (!st.db_) {
    auto p = planner();
    if (!p)
      return std::move(p.error());
    st.apply(*p);
    return caf::expected<T>{reply(*p)};
  }
  auto rp = self->make_response_promise<T>();
  st.waiting_.push_back(
    {std::move(planner),
     [rp, reply](caf::expected<const plan*> p) mutable {
       if (p)
         rp.deliver(reply(**p));
       else
         rp.deliver(std::move(p.error()));
     }});
  pump(self);
  return rp;
}

/// A read: at once, or after the requests queued before it.
template <class T, class F>
caf::result<T> read(kv_self self, F f) {
  // Through expected: caf::result<json>{x} would brace-initialise a json
  // array around x.
  if (!self->state.busy())
    return caf::expected<T>{f()};
  auto rp = self->make_response_promise<T>();
  self->state.waiting_.push_back(
    {nullptr, [rp, f](caf::expected<const plan*>) mutable { rp.deliver(f()); }});
  return rp;
}

kv_store_actor::behavior_type kv_behavior(kv_self self) {
  auto& st = self->state;
  auto revision = [self](const plan&) { return self->state.log_.revision(); };
  auto erased = [](const plan& p) { return !p.changes.empty(); };
  auto entry_of = [self](const std::string& key) {
    return [self, key](const plan&) { return self->state.entry(key); };
  };
  return with_feed<kv_store_actor::behavior_type>(
    self,
    [self](atom::get, const std::string& key, const json& fallback) {
      return read<json>(self, [self, key, fallback] {
        return self->state.get(key, fallback);
      });
    },
    [self](atom::fetch, const std::string& key) {
      return read<kv_entry>(self, [self, key] { return self->state.fetch(key); });
    },
    [self, &st, revision](atom::set, const std::string& key, json& value) {
      return write<uint64_t>(
        self, [&st, key, value = std::move(value)]() mutable {
          return st.plan_set(key, std::move(value));
        }, revision);
    },
    [self, &st, revision](atom::set, const std::string& key, json& value,
                          uint64_t expected) {
      return write<uint64_t>(
        self,
        [&st, key, value = std::move(value), expected]() mutable {
          return st.plan_set(key, std::move(value), expected);
        },
        revision);
    },
    [self, &st, revision](atom::update, json& items) {
      return write<uint64_t>(
        self, [&st, items = std::move(items)]() mutable {
          return st.plan_update(std::move(items));
        }, revision);
    },
    [self, &st, erased](atom::erase, const std::string& key) {
      return write<bool>(
        self, [&st, key] { return st.plan_erase(key); }, erased);
    },
    [self, &st, erased](atom::erase, const std::string& key,
                        uint64_t expected) {
      return write<bool>(
        self, [&st, key, expected] { return st.plan_erase(key, expected); },
        erased);
    },
    [self, &st, entry_of](atom::patch, const std::string& key, const json& doc,
                          patch_format format) {
      return write<kv_entry>(
        self, [&st, key, doc, format] { return st.plan_patch(key, doc, format); },
        entry_of(key));
    },
    [self, &st, entry_of](atom::patch, const std::string& key, const json& doc,
                          patch_format format, uint64_t expected) {
      return write<kv_entry>(
        self,
        [&st, key, doc, format, expected] {
          return st.plan_patch(key, doc, format, expected);
        },
        entry_of(key));
    },
    [self](atom::contains, const std::string& key) {
      return read<bool>(self, [self, key] { return self->state.contains(key); });
    },
    [self](atom::count) {
      return read<uint64_t>(self, [self] { return self->state.count(); });
    },
    [self](atom::list_keys) {
      return read<std::vector<std::string>>(self,
                                            [self] { return self->state.keys(); });
    },
    [self](atom::list_values) {
      return read<json>(self, [self] { return self->state.values(); });
    },
    [self](atom::get_all) {
      return read<json>(self, [self] { return self->state.items(); });
    },
    [self](atom::snapshot) {
      return read<kv_snapshot>(self, [self] { return self->state.snapshot(); });
    },
    [self](atom::snapshot, const std::string& prefix) {
      return read<kv_snapshot>(self, [self, prefix] {
        return self->state.snapshot(prefix);
      });
    },
    [self, &st, revision](atom::clear) {
      return write<uint64_t>(
        self, [&st]() -> caf::expected<plan> { return st.plan_clear(); },
        revision);
    },
    [self, &st, revision](atom::clear, const std::string& prefix) {
      return write<uint64_t>(
        self,
        [&st, prefix]() -> caf::expected<plan> { return st.plan_clear(prefix); },
        revision);
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
