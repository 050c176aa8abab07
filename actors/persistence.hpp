// The persistence actor: the only writer of <state_dir>/labrt.db. Detached,
// since every SQLite call may block on the disk.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "labrt/atoms.hpp"
#include "labrt/config.hpp"
#include "labrt/interfaces.hpp"
#include "src/store_db.hpp"

namespace labrt {

using persistence_actor = storage_actor::extend<
  /// Commits kv changes and the store's new revision; replies with it.
  caf::replies_to<atom::commit, std::vector<kv_write>, uint64_t>::with<uint64_t>,
  /// Writes a run's record (at its start and its end); an end prunes.
  caf::replies_to<atom::commit, run_record>::with<bool>,
  /// Adds a run to the end of the kept queue (writing its record later
  /// takes it off).
  caf::replies_to<atom::enqueue, run_record, run_spec>::with<bool>,
  /// The record of a run; not_found if the database has none.
  caf::replies_to<atom::get, std::string>::with<run_record>,
  /// Ended runs, newest first.
  caf::replies_to<atom::history, history_query>::with<std::vector<run_record>>,
  /// A service status change, from the service manager's feed.
  caf::reacts_to<change_event>>;

/// Checkpoints the database's write-ahead log off the writer's thread.
using wal_checkpointer_actor = caf::typed_actor<
  /// Commits the log into the database file (store_db::checkpoint).
  caf::replies_to<atom::commit>::with<bool>>;

/// Spawn detached, given the database file. Implemented in
/// actors/persistence.cpp.
wal_checkpointer_actor::behavior_type
wal_checkpointer(wal_checkpointer_actor::pointer self, std::string path);

/// The database and what became of the commits. Plain methods: tested
/// without actors.
struct persistence_state {
  static inline const char* name = "labrt.persistence";

  /// Commits, or fails whole with `errc::storage_failed`; a failure marks
  /// the storage degraded until a later commit succeeds.
  caf::expected<uint64_t> commit_kv(const std::vector<kv_write>& writes,
                                    uint64_t revision);

  /// Writes `rec`; after an ended run, prunes by `retention_` (by count,
  /// with more than 100 `max_runs`, after every max_runs / 100 ends).
  caf::expected<bool> save_run(const run_record& rec);

  /// Adds a run to the kept queue.
  caf::expected<bool> save_queued(const run_record& rec, const run_spec& spec);

  /// Records a service status change.
  void save_transition(const change_event& ev);

  /// Applies `retention_` (`max_runs` only if `by_count`): rows first,
  /// then the removed runs' log files.
  void prune(bool by_count = true);

  /// Whether the write-ahead log has grown enough to be copied into the
  /// file and no checkpoint is under way; if so, one is from now on.
  bool start_checkpoint();

  /// A checkpoint ended; `err` shows in health() until the next one. The
  /// log starts over only once it is all copied with no write since: under
  /// writes that never pause it would grow without end, so once it passes
  /// `max_wal_pages` the writer copies the rest itself, waiting once for
  /// the file's sync.
  void end_checkpoint(caf::error err);

  /// The storage state for /healthz and the metrics.
  json health() const;

  /// SQLite's own threshold for a checkpoint (wal_autocheckpoint).
  static constexpr int checkpoint_pages = 1000;

  /// Where the writer stops leaving the checkpoint to the checkpointer.
  static constexpr int max_wal_pages = 4 * checkpoint_pages;

  std::shared_ptr<store_db> db_;
  history_retention retention_;
  uint64_t pruned_runs_ = 0;
  uint64_t ends_unpruned_ = 0; ///< Runs ended since the last pruning.
  caf::error failure_; ///< The last commit's error, none after a success.
  uint64_t commits_ = 0;
  uint64_t failures_ = 0;
  bool checkpointing_ = false;
  uint64_t checkpoints_ = 0; ///< Checkpoints ended, failed ones too.
  caf::error checkpoint_failure_;

private:
  template <class T>
  caf::expected<T> track(caf::error err, T result);
};

/// Spawn detached: `sys.spawn<caf::detached>(persistence, db, retention)`.
/// Prunes once at start.
persistence_actor::behavior_type
persistence(persistence_actor::stateful_pointer<persistence_state> self,
            std::shared_ptr<store_db> db, history_retention retention);

} // namespace labrt
