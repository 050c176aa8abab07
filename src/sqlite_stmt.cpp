#include "src/sqlite_stmt.hpp"

#include <cstring>
#include <utility>

#include <sqlite3.h>

#include "labrt/errc.hpp"

namespace labrt {

namespace {

/// What an operator should know about a code, beyond SQLite's text.
const char* reason_of(int primary) {
  switch (primary) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return "the file is corrupt or not an SQLite database";
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return "the database or its directory is read-only";
    case SQLITE_FULL:
      return "the disk is full";
    case SQLITE_CANTOPEN:
      return "cannot open or create the file (is its directory writable?)";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "another process holds the database";
    default:
      return nullptr;
  }
}

} // namespace

caf::error storage_error(const std::string& path, const std::string& what,
                         int rc, sqlite3* db) {
  std::string text = path + ": " + what + ": ";
  // The connection's message is more precise, but only while it is about rc.
  if (db != nullptr && sqlite3_errcode(db) == rc)
    text += sqlite3_errmsg(db);
  else
    text += sqlite3_errstr(rc);
  if (auto reason = reason_of(rc & 0xff))
    text += std::string{" ("} + reason + ")";
  if (int err = db != nullptr ? sqlite3_system_errno(db) : 0; err != 0
      && (rc & 0xff) != SQLITE_NOTADB && (rc & 0xff) != SQLITE_CORRUPT)
    text += std::string{" ["} + std::strerror(err) + "]";
  return make_error(errc::storage_failed, std::move(text));
}

sqlite_stmt::sqlite_stmt(sqlite_stmt&& other) noexcept
  : stmt_(std::exchange(other.stmt_, nullptr)) {
}

sqlite_stmt& sqlite_stmt::operator=(sqlite_stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

sqlite_stmt::~sqlite_stmt() {
  sqlite3_finalize(stmt_);
}

int sqlite_stmt::prepare(sqlite3* db, const char* sql, sqlite_stmt& out) {
  sqlite3_stmt* stmt = nullptr;
  auto rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
                               nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return rc;
  }
  out = sqlite_stmt{};
  out.stmt_ = stmt;
  return SQLITE_OK;
}

sqlite_stmt& sqlite_stmt::bind(int pos, int64_t value) {
  sqlite3_bind_int64(stmt_, pos, value);
  return *this;
}

sqlite_stmt& sqlite_stmt::bind(int pos, const std::string& value) {
  sqlite3_bind_text(stmt_, pos, value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

sqlite_stmt& sqlite_stmt::bind_null(int pos) {
  sqlite3_bind_null(stmt_, pos);
  return *this;
}

int sqlite_stmt::step() {
  return sqlite3_step(stmt_);
}

int sqlite_stmt::run() {
  int rc;
  while ((rc = step()) == SQLITE_ROW) {
  }
  reset();
  return rc;
}

void sqlite_stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t sqlite_stmt::int_at(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::string sqlite_stmt::text_at(int col) const {
  auto text = sqlite3_column_text(stmt_, col);
  auto size = sqlite3_column_bytes(stmt_, col);
  if (text == nullptr)
    return {};
  return {reinterpret_cast<const char*>(text), static_cast<size_t>(size)};
}

bool sqlite_stmt::null_at(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

} // namespace labrt
