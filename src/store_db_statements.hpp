// The prepared statements of store_db, shared by its implementation files.
#pragma once

#include "src/store_db.hpp"

namespace labrt {

struct store_db::statements {
  sqlite_stmt begin;
  sqlite_stmt commit;
  sqlite_stmt run_pid_start;
  sqlite_stmt run_delete;
  sqlite_stmt run_insert;
  sqlite_stmt run_find;
  sqlite_stmt transition_insert;
  sqlite_stmt queue_insert;
  sqlite_stmt queue_delete;
  sqlite_stmt kv_put;
  sqlite_stmt kv_erase;
  sqlite_stmt meta_put;
  sqlite_stmt meta_get;
  /// Frames in the write-ahead log after the last commit (the WAL hook).
  int wal_pages = 0;
};

} // namespace labrt
