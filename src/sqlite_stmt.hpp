// Thin RAII over the sqlite3 C API: a prepared statement and the mapping of
// SQLite's result codes to labrt errors. Plain C++, no actors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/error.hpp>

struct sqlite3;
struct sqlite3_stmt;

namespace labrt {

/// `errc::storage_failed` reading "<path>: <what>: <SQLite's text>", with
/// the reason spelled out for the codes an operator can act on: corrupt or
/// not a database, read-only, disk full, cannot open.
caf::error storage_error(const std::string& path, const std::string& what,
                         int rc, sqlite3* db);

/// One prepared statement, reset after each use. Bind positions start at 1.
class sqlite_stmt {
public:
  sqlite_stmt() noexcept = default;
  sqlite_stmt(sqlite_stmt&& other) noexcept;
  sqlite_stmt& operator=(sqlite_stmt&& other) noexcept;
  sqlite_stmt(const sqlite_stmt&) = delete;
  sqlite_stmt& operator=(const sqlite_stmt&) = delete;
  ~sqlite_stmt();

  /// Returns the SQLite result code; `out` is empty on failure.
  static int prepare(sqlite3* db, const char* sql, sqlite_stmt& out);

  sqlite_stmt& bind(int pos, int64_t value);
  sqlite_stmt& bind(int pos, const std::string& value);
  sqlite_stmt& bind_null(int pos);

  /// sqlite3_step: SQLITE_ROW, SQLITE_DONE or an error code.
  int step();

  /// Steps to the end; SQLITE_DONE or the error. Resets either way.
  int run();

  /// Clears the bindings and rewinds, for the next use.
  void reset();

  int64_t int_at(int col) const;
  std::string text_at(int col) const;
  bool null_at(int col) const;

private:
  sqlite3_stmt* stmt_ = nullptr;
};

} // namespace labrt
