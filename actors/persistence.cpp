#include "actors/persistence.hpp"

#include <unistd.h>

#include <algorithm>

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

caf::expected<bool> persistence_state::save_run(const run_record& rec) {
  auto saved = track(db_->put_run(rec), true);
  // Finding the max_runs-th newest run walks that many index entries, so a
  // large history is cut to max_runs every max_runs / 100 ends (at most 1%
  // over); the cut by age costs an index range and is made every time.
  if (saved && *outcome_of(rec) != '\0')
    prune(++ends_unpruned_
          >= std::max<uint64_t>(1, retention_.max_runs / 100));
  return saved;
}

caf::expected<bool> persistence_state::save_queued(const run_record& rec,
                                                   const run_spec& spec) {
  return track(db_->put_queued(rec, spec), true);
}

void persistence_state::save_transition(const change_event& ev) {
  // Nobody waits for it: a failure shows in health() only.
  static_cast<void>(track(db_->put_transition(ev), true));
}

void persistence_state::prune(bool by_count) {
  if (by_count)
    ends_unpruned_ = 0;
  auto gone = db_->prune(by_count ? retention_.max_runs : 0,
                         retention_.max_days, caf::make_timestamp());
  if (!gone) {
    static_cast<void>(track(std::move(gone.error()), true));
    return;
  }
  pruned_runs_ += gone->runs;
  // A log that is already gone is what was wanted.
  for (auto& path : gone->logs)
    ::unlink(path.c_str());
}

json persistence_state::health() const {
  json result{{"state", failure_ ? "degraded" : "ok"},
              {"file", db_->path()},
              {"commits", commits_},
              {"failures", failures_},
              {"pruned_runs", pruned_runs_}};
  if (failure_)
    result["error"] = message_of(failure_);
  return result;
}

persistence_actor::behavior_type
persistence(persistence_actor::stateful_pointer<persistence_state> self,
            std::shared_ptr<store_db> db, history_retention retention) {
  auto& st = self->state;
  st.db_ = std::move(db);
  st.retention_ = retention;
  st.prune();
  return {
    [self](atom::commit, const std::vector<kv_write>& writes,
           uint64_t revision) {
      return self->state.commit_kv(writes, revision);
    },
    [self](atom::commit, const run_record& rec) {
      return self->state.save_run(rec);
    },
    [self](atom::enqueue, const run_record& rec, const run_spec& spec) {
      return self->state.save_queued(rec, spec);
    },
    [self](atom::get, const std::string& id) {
      return self->state.db_->find_run(id);
    },
    [self](atom::history, const history_query& q) {
      return self->state.db_->history(q);
    },
    [self](atom::storage) { return self->state.health(); },
    [self](const change_event& ev) { self->state.save_transition(ev); },
  };
}

} // namespace labrt
