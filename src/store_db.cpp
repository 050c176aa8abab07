#include "src/store_db.hpp"

#include <algorithm>
#include <ctime>
#include <iterator>
#include <utility>

#include <sqlite3.h>

#include "labrt/errc.hpp"
#include "src/store_db_statements.hpp"

namespace labrt {

namespace {

/// The schema, one step per version: migrations[i] takes user_version i to
/// i + 1. Append only; a shipped step never changes.
const char* const migrations[] = {
  // 1: the kv store, and the store's revision (which erasures also advance,
  // so it is not the largest row revision).
  "CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
  "  WITHOUT ROWID;"
  "CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL,"
  "  revision INTEGER NOT NULL) WITHOUT ROWID;",
  // 2: runs and service transitions. Times are ns since the epoch, 0 = not
  // yet. seq orders the history: a run's end gives it a new, last seq.
  "CREATE TABLE runs(seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE,"
  "  state TEXT NOT NULL, final INTEGER NOT NULL, outcome TEXT NOT NULL,"
  "  script TEXT NOT NULL, args TEXT NOT NULL, bin TEXT NOT NULL,"
  "  topology TEXT NOT NULL, words TEXT NOT NULL,"
  "  enqueued_at INTEGER NOT NULL, started_at INTEGER NOT NULL,"
  "  ended_at INTEGER NOT NULL, pid INTEGER NOT NULL,"
  "  pid_start INTEGER NOT NULL, exit_code INTEGER, signal INTEGER,"
  "  stopped_by TEXT NOT NULL, timed_out INTEGER NOT NULL,"
  "  log TEXT NOT NULL, log_bytes INTEGER NOT NULL, record TEXT NOT NULL);"
  "CREATE INDEX runs_history ON runs(final, seq);"
  "CREATE INDEX runs_script ON runs(script, seq);"
  "CREATE INDEX runs_ended ON runs(ended_at);"
  "CREATE TABLE service_transitions(seq INTEGER PRIMARY KEY,"
  "  at INTEGER NOT NULL, entry TEXT NOT NULL, old_value TEXT NOT NULL,"
  "  new_value TEXT NOT NULL, revision INTEGER NOT NULL);"
  "CREATE INDEX transitions_at ON service_transitions(at);",
  // 3: the queue, in order; record and spec as JSON (run_record, run_spec).
  "CREATE TABLE queue(seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE,"
  "  record TEXT NOT NULL, spec TEXT NOT NULL);",
  // 4: a run's every field in a column of its own, so reading a page
  // decodes no JSON; filled from the record for the runs already there.
  // The history index holds every filter's column, so a filtered page
  // walks the index from the newest run and reads only the rows it returns.
  "ALTER TABLE runs ADD COLUMN path TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE runs ADD COLUMN topology_file TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE runs ADD COLUMN pgid INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE runs ADD COLUMN cookie TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE runs ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE runs ADD COLUMN signal_name TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE runs ADD COLUMN core_dumped INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE runs ADD COLUMN leftovers INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE runs ADD COLUMN out_bytes INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE runs ADD COLUMN err_bytes INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE runs ADD COLUMN log_cut_bytes INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE runs ADD COLUMN lines_dropped INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE runs ADD COLUMN error TEXT NOT NULL DEFAULT '';"
  "UPDATE runs SET"
  "  path = coalesce(json_extract(record, '$.path'), ''),"
  "  topology_file = coalesce(json_extract(record, '$.topology_file'), ''),"
  "  pgid = coalesce(json_extract(record, '$.pgid'), 0),"
  "  cookie = coalesce(json_extract(record, '$.cookie'), ''),"
  "  duration_ms = coalesce(json_extract(record, '$.duration_ms'), 0),"
  "  signal_name = coalesce(json_extract(record, '$.signal.name'), ''),"
  "  core_dumped = coalesce(json_extract(record, '$.core_dumped'), 0),"
  "  leftovers = coalesce(json_extract(record, '$.leftovers'), 0),"
  "  out_bytes = coalesce(json_extract(record, '$.out_bytes'), 0),"
  "  err_bytes = coalesce(json_extract(record, '$.err_bytes'), 0),"
  "  log_cut_bytes = coalesce(json_extract(record, '$.log_cut_bytes'), 0),"
  "  lines_dropped = coalesce(json_extract(record, '$.lines_dropped'), 0),"
  "  error = coalesce(json_extract(record, '$.error'), '');"
  "DROP INDEX runs_history;"
  "CREATE INDEX runs_history ON runs(final, seq, ended_at, outcome, script,"
  "  words);"
  "CREATE INDEX runs_outcome ON runs(outcome, seq);",
  // 5: a trigram index of the ended runs' words, so ?q finds a word of 3
  // characters or more without reading every run (shorter ones still do).
  // Case-sensitive substrings, as instr() matched them. Only ended runs:
  // the history shows no other, and a run's start then costs nothing more.
  "CREATE VIRTUAL TABLE runs_words USING fts5(words, content='runs',"
  "  content_rowid='seq', tokenize='trigram case_sensitive 1');"
  "CREATE TRIGGER runs_words_insert AFTER INSERT ON runs WHEN new.final = 1"
  "  BEGIN INSERT INTO runs_words(rowid, words) VALUES (new.seq, new.words);"
  "END;"
  "CREATE TRIGGER runs_words_delete AFTER DELETE ON runs WHEN old.final = 1"
  "  BEGIN INSERT INTO runs_words(runs_words, rowid, words)"
  "  VALUES ('delete', old.seq, old.words);"
  "END;"
  "CREATE TRIGGER runs_words_update AFTER UPDATE OF seq, final, words ON runs"
  "  BEGIN INSERT INTO runs_words(runs_words, rowid, words)"
  "  SELECT 'delete', old.seq, old.words WHERE old.final = 1;"
  "  INSERT INTO runs_words(rowid, words)"
  "  SELECT new.seq, new.words WHERE new.final = 1;"
  "END;"
  "INSERT INTO runs_words(rowid, words)"
  "  SELECT seq, words FROM runs WHERE final = 1;",
  // 6: a kv put keeps its revision in its row only, and the store's
  // revision is the largest of meta's and the rows'. A labrt before this
  // reads meta alone and would hand a revision out again: it must refuse
  // the file, hence a version for what is only a change of meaning.
  "UPDATE meta SET value = max(value,"
  "  (SELECT coalesce(max(revision), 0) FROM kv)) WHERE name = 'kv_revision';",
};

constexpr int migration_count = static_cast<int>(std::size(migrations));

} // namespace


int store_db::latest_version() {
  return migration_count;
}

const char* store_db::migration(int version) {
  return version >= 1 && version <= migration_count ? migrations[version - 1]
                                                    : nullptr;
}

store_db::store_db(std::string path, sqlite3* db)
  : path_(std::move(path)), db_(db), stmts_(std::make_unique<statements>()) {
}

store_db::store_db(store_db&& other) noexcept
  : path_(std::move(other.path_)),
    db_(std::exchange(other.db_, nullptr)),
    stmts_(std::move(other.stmts_)) {
}

store_db& store_db::operator=(store_db&& other) noexcept {
  if (this != &other) {
    stmts_ = std::move(other.stmts_);
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

store_db::~store_db() {
  // Statements first: a connection with live statements does not close.
  stmts_.reset();
  sqlite3_close_v2(db_);
}

caf::expected<store_db> store_db::open(const std::string& state_dir) {
  auto path = state_dir + "/" + file_name;
  sqlite3* db = nullptr;
  auto rc = sqlite3_open_v2(path.c_str(), &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                              | SQLITE_OPEN_NOMUTEX,
                            nullptr);
  store_db result{path, db}; // closes db on every return below
  if (rc != SQLITE_OK)
    return result.fail("cannot open", rc);
  sqlite3_extended_result_codes(db, 1);
  // SQLite silently opens an unwritable file read-only; a daemon that
  // cannot commit must not start.
  if (sqlite3_db_readonly(db, "main") == 1)
    return result.fail("cannot open for writing", SQLITE_READONLY);
  if (auto err = result.configure())
    return err;
  if (auto err = result.migrate())
    return err;
  if (auto err = result.prepare())
    return err;
  // One write at every start, so a file that cannot take a commit (read-only
  // directory, full disk) fails at start rather than at the first change.
  rc = result.stmts_->meta_put.bind(1, std::string{"opened"})
         .bind(2, static_cast<int64_t>(::time(nullptr)))
         .run();
  if (rc != SQLITE_DONE)
    return result.fail("cannot write", rc);
  return result;
}

caf::error store_db::fail(const std::string& what, int rc) {
  return storage_error(path_, what, rc, db_);
}

caf::error store_db::exec(const std::string& sql) {
  auto rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? caf::error{} : fail("cannot run '" + sql + "'", rc);
}

caf::expected<int64_t> store_db::query_int(const std::string& sql) {
  sqlite_stmt stmt;
  auto rc = sqlite_stmt::prepare(db_, sql.c_str(), stmt);
  if (rc != SQLITE_OK)
    return fail("cannot read", rc);
  rc = stmt.step();
  if (rc != SQLITE_ROW)
    return fail("cannot read", rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
  auto result = stmt.int_at(0);
  stmt.reset();
  return result;
}

caf::error store_db::configure() {
  // The first statement reads the header: a file that is no database fails
  // here.
  sqlite3_busy_timeout(db_, 1000);
  sqlite_stmt wal;
  auto rc = sqlite_stmt::prepare(db_, "PRAGMA journal_mode = WAL", wal);
  if (rc == SQLITE_OK)
    rc = wal.step();
  if (rc != SQLITE_ROW)
    return fail("cannot read", rc);
  if (wal.text_at(0) != "wal")
    return fail("cannot switch to WAL (journal mode " + wal.text_at(0) + ")",
                SQLITE_CANTOPEN);
  wal.reset();
  // Replaces SQLite's checkpoint at commit (wal_autocheckpoint) with a count.
  sqlite3_wal_hook(
    db_,
    [](void* pages, sqlite3*, const char*, int n) {
      *static_cast<int*>(pages) = n;
      return SQLITE_OK;
    },
    &stmts_->wal_pages);
  return exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
}

int store_db::wal_pages() const {
  return stmts_->wal_pages;
}

caf::error store_db::checkpoint(const std::string& path) {
  sqlite3* db = nullptr;
  auto rc = sqlite3_open_v2(path.c_str(), &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                            nullptr);
  // A connection opens the log at its first read, and checkpoints nothing
  // before (SQLite 3.40).
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, "PRAGMA schema_version", nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK)
    rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE,
                                   nullptr, nullptr);
  auto err = rc == SQLITE_OK ? caf::error{}
                             : storage_error(path, "cannot checkpoint", rc, db);
  sqlite3_close(db);
  return err;
}

caf::error store_db::migrate() {
  auto version = query_int("PRAGMA user_version");
  if (!version)
    return version.error();
  if (*version > migration_count)
    return make_error(errc::storage_failed,
                      path_ + ": schema version " + std::to_string(*version)
                        + " is newer than this labrt's ("
                        + std::to_string(migration_count)
                        + "): written by a later release");
  for (auto v = *version; v < migration_count; ++v) {
    // user_version is part of the transaction: a step applies whole or not.
    auto step = std::string{"BEGIN IMMEDIATE;"} + migrations[v]
                + "PRAGMA user_version = " + std::to_string(v + 1) + ";COMMIT";
    auto rc = sqlite3_exec(db_, step.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK)
      return rollback(fail("cannot migrate the schema to version "
                             + std::to_string(v + 1),
                           rc));
  }
  return {};
}

caf::error store_db::prepare() {
  auto find_sql = std::string{"SELECT "} + run_columns
                  + " FROM runs WHERE run_id = ?1";
  struct {
    sqlite_stmt* stmt;
    const char* sql;
  } all[] = {
    {&stmts_->begin, "BEGIN IMMEDIATE"},
    {&stmts_->commit, "COMMIT"},
    {&stmts_->kv_put,
     "INSERT INTO kv VALUES(?1, ?2, ?3) ON CONFLICT(key) DO UPDATE"
     " SET value = excluded.value, revision = excluded.revision"},
    {&stmts_->kv_erase, "DELETE FROM kv WHERE key = ?1"},
    {&stmts_->meta_put,
     "INSERT INTO meta VALUES(?1, ?2) ON CONFLICT(name) DO UPDATE"
     " SET value = excluded.value"},
    {&stmts_->meta_get, "SELECT value FROM meta WHERE name = ?1"},
    {&stmts_->run_pid_start, "SELECT pid_start FROM runs WHERE run_id = ?1"},
    {&stmts_->run_delete, "DELETE FROM runs WHERE run_id = ?1"},
    {&stmts_->run_insert,
     "INSERT INTO runs(run_id, state, final, outcome, script, args, bin,"
     " topology, words, enqueued_at, started_at, ended_at, pid, pid_start,"
     " exit_code, signal, stopped_by, timed_out, log, log_bytes, record,"
     " path, topology_file, pgid, cookie, duration_ms, signal_name,"
     " core_dumped, leftovers, out_bytes, err_bytes, log_cut_bytes,"
     " lines_dropped, error)"
     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
     " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28,"
     " ?29, ?30, ?31, ?32, ?33, ?34)"},
    {&stmts_->run_find, find_sql.c_str()},
    {&stmts_->queue_insert,
     "INSERT INTO queue(run_id, record, spec) VALUES(?1, ?2, ?3)"},
    {&stmts_->queue_delete, "DELETE FROM queue WHERE run_id = ?1"},
    {&stmts_->transition_insert,
     "INSERT INTO service_transitions(at, entry, old_value, new_value,"
     " revision) VALUES(?1, ?2, ?3, ?4, ?5)"},
  };
  for (auto& [stmt, sql] : all)
    if (auto rc = sqlite_stmt::prepare(db_, sql, *stmt); rc != SQLITE_OK)
      return fail(std::string{"cannot prepare '"} + sql + "'", rc);
  return {};
}

caf::error store_db::rollback(caf::error err) {
  // A failed COMMIT (SQLITE_FULL, I/O) may have rolled back already.
  if (sqlite3_get_autocommit(db_) == 0)
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return err;
}

caf::expected<kv_image> store_db::load_kv() {
  kv_image result;
  auto& get = stmts_->meta_get;
  get.bind(1, std::string{"kv_revision"});
  auto rc = get.step();
  if (rc == SQLITE_ROW)
    result.revision = static_cast<uint64_t>(get.int_at(0));
  get.reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return fail("cannot read the kv revision", rc);
  sqlite_stmt rows;
  rc = sqlite_stmt::prepare(db_, "SELECT key, value, revision FROM kv", rows);
  if (rc != SQLITE_OK)
    return fail("cannot read the kv store", rc);
  while ((rc = rows.step()) == SQLITE_ROW) {
    auto value = json::parse(rows.text_at(1), nullptr, false);
    if (value.is_discarded())
      return fail("cannot read key '" + rows.text_at(0) + "'", SQLITE_CORRUPT);
    auto rev = static_cast<uint64_t>(rows.int_at(2));
    result.revision = std::max(result.revision, rev);
    result.rows.push_back({rows.text_at(0), std::move(value), rev});
  }
  if (rc != SQLITE_DONE)
    return fail("cannot read the kv store", rc);
  return result;
}

caf::error store_db::commit_kv(const std::vector<kv_write>& writes,
                               uint64_t revision) {
  auto& s = *stmts_;
  if (auto rc = s.begin.run(); rc != SQLITE_DONE)
    return rollback(fail("cannot begin a kv commit", rc));
  for (auto& w : writes) {
    auto rc = w.erased ? s.kv_erase.bind(1, w.key).run()
                       : s.kv_put.bind(1, w.key)
                           .bind(2, w.value)
                           .bind(3, static_cast<int64_t>(w.revision))
                           .run();
    if (rc != SQLITE_DONE)
      return rollback(fail("cannot write key '" + w.key + "'", rc));
  }
  // A put keeps its revision in its row, and load_kv takes the largest: the
  // store's revision needs a write of its own only when an erasure, which
  // leaves no row, is the last. One page less per set.
  auto rc = SQLITE_DONE;
  if (writes.empty() || writes.back().erased)
    rc = s.meta_put.bind(1, std::string{"kv_revision"})
           .bind(2, static_cast<int64_t>(revision))
           .run();
  if (rc == SQLITE_DONE)
    rc = s.commit.run();
  if (rc != SQLITE_DONE)
    return rollback(fail("cannot commit kv revision " + std::to_string(revision),
                         rc));
  return {};
}

} // namespace labrt
