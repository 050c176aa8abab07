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

bool persistence_state::start_checkpoint() {
  if (checkpointing_ || db_->wal_pages() < checkpoint_pages)
    return false;
  checkpointing_ = true;
  return true;
}

void persistence_state::end_checkpoint(caf::error err) {
  checkpointing_ = false;
  ++checkpoints_;
  if (!err && db_->wal_pages() >= max_wal_pages)
    err = db_->exec("PRAGMA wal_checkpoint(PASSIVE)");
  checkpoint_failure_ = std::move(err);
}

json persistence_state::health() const {
  json result{{"state", failure_ ? "degraded" : "ok"}, {"file", db_->path()},
    {"commits", commits_}, {"failures", failures_},
    {"pruned_runs", pruned_runs_}, {"wal_pages", db_->wal_pages()},
    {"checkpoints", checkpoints_}};
  if (failure_)
    result["error"] = message_of(failure_);
  if (checkpoint_failure_)
    result["checkpoint_error"] = message_of(checkpoint_failure_);
  return result;
}

wal_checkpointer_actor::behavior_type
wal_checkpointer(wal_checkpointer_actor::pointer, std::string path) {
  return {
    [path](atom::commit) -> caf::result<bool> {
      if (auto err = store_db::checkpoint(path))
        return err;
      return true;
    },
  };
}

namespace {

/// After a write: hands the log to the checkpointer when it is due.
void checkpoint_if_due(persistence_actor::stateful_pointer<persistence_state> self,
                       const wal_checkpointer_actor& checkpointer) {
  if (!self->state.start_checkpoint())
    return;
  self->request(checkpointer, caf::infinite, atom::commit_v)
    .then([self](bool) { self->state.end_checkpoint({}); },
          [self](caf::error& err) {
            self->state.end_checkpoint(std::move(err));
          });
}

} // namespace

persistence_actor::behavior_type
persistence(persistence_actor::stateful_pointer<persistence_state> self,
            std::shared_ptr<store_db> db, history_retention retention) {
  auto& st = self->state;
  st.db_ = std::move(db);
  st.retention_ = retention;
  st.prune();
  auto ckpt = self->spawn<caf::detached + caf::linked>(wal_checkpointer,
                                                        st.db_->path());
  // Every write may make the log due for a checkpoint.
  auto written = [self, ckpt](auto result) {
    checkpoint_if_due(self, ckpt);
    return result;
  };
  return {
    [self, written](atom::commit, const std::vector<kv_write>& writes,
                    uint64_t revision) {
      return written(self->state.commit_kv(writes, revision));
    },
    [self, written](atom::commit, const run_record& rec) {
      return written(self->state.save_run(rec));
    },
    [self, written](atom::enqueue, const run_record& rec,
                    const run_spec& spec) {
      return written(self->state.save_queued(rec, spec));
    },
    [self](atom::get, const std::string& id) {
      return self->state.db_->find_run(id);
    },
    [self](atom::history, const history_query& q) {
      return self->state.db_->history(q);
    },
    [self](atom::storage) { return self->state.health(); },
    [self, ckpt](const change_event& ev) {
      self->state.save_transition(ev);
      checkpoint_if_due(self, ckpt);
    },
  };
}

} // namespace labrt
