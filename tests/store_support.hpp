// What the store_db tests share: a look at the file past store_db.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include <sqlite3.h>

namespace labrt::test {

/// Runs `sql` on the file with a connection of its own, as another reader
/// would; returns the first column of the first row.
inline std::string raw_query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  std::string result;
  if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0))
    result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

} // namespace labrt::test
