#include "actors/persistence.hpp"

#include "labrt/errc.hpp"

namespace labrt {

template <class T>
caf::expected<T> persistence_state::track(caf::error err, T result) {
  if (err) {
    ++failures_;
    failure_ = err;
    return err;
  }
  ++commits_;
  failure_ = caf::error{};
  return result;
}

caf::expected<uint64_t>
persistence_state::commit_kv(const std::vector<kv_write>& writes,
                             uint64_t revision) {
  return track(db_->commit_kv(writes, revision), revision);
}

json persistence_state::health() const {
  json result{{"state", failure_ ? "degraded" : "ok"},
              {"file", db_->path()},
              {"commits", commits_},
              {"failures", failures_}};
  if (failure_)
    result["error"] = message_of(failure_);
  return result;
}

persistence_actor::behavior_type
persistence(persistence_actor::stateful_pointer<persistence_state> self,
            std::shared_ptr<store_db> db) {
  self->state.db_ = std::move(db);
  return {
    [self](atom::commit, const std::vector<kv_write>& writes,
           uint64_t revision) {
      return self->state.commit_kv(writes, revision);
    },
    [self](atom::storage) { return self->state.health(); },
  };
}

} // namespace labrt
