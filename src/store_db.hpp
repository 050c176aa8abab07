// The daemon's database, <state_dir>/labrt.db: opening, schema migrations
// and the statements the persistence actor runs. Plain C++, no actors; one
// thread uses it at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "labrt/run_types.hpp"
#include "labrt/types.hpp"
#include "src/sqlite_stmt.hpp"

namespace labrt {

/// One kv change to commit. `value` is the JSON text; unused when erased.
struct kv_write {
  std::string key;
  std::string value;
  uint64_t revision = 0;
  bool erased = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kv_write& x) {
  return f(caf::meta::type_name("kv_write"), x.key, x.value, x.revision,
           x.erased);
}

/// The kv store as last committed.
struct kv_image {
  struct row {
    std::string key;
    json value;
    uint64_t revision = 0;
  };
  std::vector<row> rows;
  /// The store's revision: that of its last change, erasures included.
  uint64_t revision = 0;
};

/// A run waiting in the queue, as the database keeps it: its record and
/// what it needs to start.
struct queued_run {
  run_record rec;
  run_spec spec;
};

/// An open labrt.db. WAL with synchronous=NORMAL: a commit survives a crash
/// of the process; a power loss may lose the last commits, never the file.
class store_db {
public:
  /// The file name under the state directory.
  static constexpr const char* file_name = "labrt.db";

  /// The schema version this build writes (PRAGMA user_version).
  static int latest_version();

  /// The SQL that takes the schema from `version - 1` to `version`; null
  /// for a version this build does not know (tests build old files).
  static const char* migration(int version);

  /// What run_of reads, in its order.
  static const char* const run_columns;

  /// Opens or creates `<state_dir>/labrt.db` and brings its schema up to
  /// date. Every failure is `errc::storage_failed` naming the file and the
  /// reason: corrupt or not a database, read-only, disk full, written by a
  /// newer labrt. Writes once, so an unwritable file fails here.
  static caf::expected<store_db> open(const std::string& state_dir);

  store_db(store_db&&) noexcept;
  store_db& operator=(store_db&&) noexcept;
  ~store_db();

  const std::string& path() const noexcept {
    return path_;
  }

  /// The kv store's rows and revision.
  caf::expected<kv_image> load_kv();

  /// Applies `writes` in one transaction and records `revision` as the
  /// store's; all or nothing.
  caf::error commit_kv(const std::vector<kv_write>& writes, uint64_t revision);

  /// Writes a run's record when it starts and again when it ends: its
  /// columns for the history's filters, the pid's start time while it
  /// runs, and the whole record. An ended run becomes the newest in the
  /// history.
  caf::error put_run(const run_record& rec);

  /// Adds a run to the end of the queue. Its entry goes when put_run writes
  /// the run (started, failed or cancelled), in the same transaction.
  caf::error put_queued(const run_record& rec, const run_spec& spec);

  /// The queue, first to start first, without the runs put_run wrote.
  caf::expected<std::vector<queued_run>> load_queue();

  /// The record of run `id`; `errc::not_found` if there is none.
  caf::expected<run_record> find_run(const std::string& id);

  /// Ended runs, newest first, as history_query says.
  caf::expected<std::vector<run_record>> history(const history_query& q);

  /// Records a change of a service status entry.
  caf::error put_transition(const change_event& ev);

  /// What a pruning removed.
  struct pruned {
    uint64_t runs = 0;
    uint64_t transitions = 0;
    std::vector<std::string> logs; ///< The removed runs' log files.
  };

  /// Keeps the newest `max_runs` ended runs (0: any number) and nothing
  /// that ended, or changed, more than `max_days` before `now` (0: any
  /// age). Deletes rows only: the caller removes the logs.
  caf::expected<pruned> prune(uint64_t max_runs, uint64_t max_days,
                              caf::timestamp now);

  /// Pages in the write-ahead log after the last commit. Commits never
  /// checkpoint: a checkpoint syncs the file, which can take seconds on a
  /// busy disk, and every write would wait for it. `checkpoint` does it
  /// from elsewhere.
  int wal_pages() const;

  /// Copies the write-ahead log of the database at `path` into it, through
  /// a connection of its own; passive: it neither waits for nor blocks the
  /// writer, and the writer starts the log over once it is all copied.
  static caf::error checkpoint(const std::string& path);

  /// Runs statements that return no rows (tests, maintenance).
  caf::error exec(const std::string& sql);

  /// Runs `sql`, which returns one integer.
  caf::expected<int64_t> query_int(const std::string& sql);

private:
  struct statements;

  store_db(std::string path, sqlite3* db);
  caf::error configure();
  caf::error migrate();
  caf::error prepare();
  caf::error fail(const std::string& what, int rc);
  caf::error rollback(caf::error err);

  std::string path_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> stmts_;
};

} // namespace labrt
