// store_db on real files: schema, WAL, kv commits, and the storage failures
// an operator meets (corrupt file, read-only file or directory, full disk).
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "labrt/errc.hpp"
#include "src/store_db.hpp"
#include "tests/proc_support.hpp"
#include "tests/store_support.hpp"

using namespace labrt;
using labrt::test::fork_child;
using labrt::test::raw_query;
using labrt::test::temp_dir;

namespace {

std::vector<kv_write> one_write(const std::string& key, const json& value,
                                uint64_t revision) {
  return {kv_write{key, value.dump(), revision, false}};
}

/// store_db::open(dir) in a child process that, if it runs as root, becomes
/// nobody first: root writes through any mode bits, so a read-only file
/// is only read-only for someone else. Returns "ok" or the rendered error.
std::string open_as_unprivileged(const std::string& dir) {
  auto child = fork_child([&](int fd) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0))
      return 3;
    auto db = store_db::open(dir);
    auto text = db ? std::string{"ok"} : render(db.error());
    auto n = ::write(fd, text.data(), text.size());
    return n == static_cast<ssize_t>(text.size()) ? 0 : 4;
  });
  std::string text;
  char buf[512];
  for (ssize_t n; (n = ::read(child.from_child.get(), buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<size_t>(n));
  int status = 0;
  REQUIRE(::waitpid(child.pid, &status, 0) == child.pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return text;
}

} // namespace

TEST_CASE("a new database is in WAL mode with synchronous NORMAL at the latest "
          "schema") {
  temp_dir dir;
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  CHECK(db->path() == dir / "labrt.db");
  CHECK(db->query_int("PRAGMA synchronous") == 1); // NORMAL
  CHECK(raw_query(db->path(), "PRAGMA journal_mode") == "wal");
  CHECK(raw_query(db->path(), "PRAGMA user_version")
        == std::to_string(store_db::latest_version()));
  auto image = db->load_kv();
  INFO((image ? "" : render(image.error())));
  REQUIRE(image);
  CHECK(image->rows.empty());
  CHECK(image->revision == 0);
}

TEST_CASE("kv rows and the store revision survive a reopen") {
  temp_dir dir;
  auto reopen = [&] {
    auto db = store_db::open(dir.path);
    REQUIRE(db);
    auto image = db->load_kv();
    INFO((image ? "" : render(image.error())));
    REQUIRE(image);
    return std::move(*image);
  };
  auto commit = [&](const std::vector<kv_write>& writes) {
    auto db = store_db::open(dir.path);
    REQUIRE(db);
    REQUIRE(!db->commit_kv(writes, writes.back().revision));
  };
  commit(one_write("a", json{{"x", 1}}, 1));
  commit({kv_write{"b", "\"two\"", 2, false}, kv_write{"c", "3", 3, false}});
  // An erasure advances the store's revision past every row's.
  commit({kv_write{"c", "", 4, true}});
  CHECK(reopen().revision == 4);
  // A put's revision is in its row only: the largest row's is the store's.
  commit(one_write("d", json{4}, 5));
  CHECK(raw_query(dir / "labrt.db", "SELECT value FROM meta") == "4");
  CHECK(reopen().revision == 5);
  commit({kv_write{"d", "", 6, true}});
  auto image = reopen();
  CHECK(image.revision == 6);
  REQUIRE(image.rows.size() == 2);
  std::sort(image.rows.begin(), image.rows.end(),
    [](auto& x, auto& y) { return x.key < y.key; });
  CHECK(image.rows[0].key == "a");
  CHECK(image.rows[0].value == json{{"x", 1}});
  CHECK(image.rows[0].revision == 1);
  CHECK(image.rows[1].key == "b");
  CHECK(image.rows[1].value == "two");
  CHECK(image.rows[1].revision == 2);
}

TEST_CASE("an old schema is migrated and a newer one refused") {
  temp_dir dir;
  auto path = dir / "labrt.db";
  // A version-0 file: some SQLite database labrt never wrote.
  CHECK(raw_query(path, "CREATE TABLE other(x)").empty());
  {
    auto db = store_db::open(dir.path);
    REQUIRE(db);
  }
  CHECK(raw_query(path, "PRAGMA user_version")
        == std::to_string(store_db::latest_version()));
  CHECK(raw_query(path, "SELECT count(*) FROM sqlite_master WHERE name = 'kv'")
        == "1");
  CHECK(raw_query(path, "PRAGMA user_version = 999").empty());
  auto db = store_db::open(dir.path);
  REQUIRE(!db);
  CHECK(code_of(db.error()) == errc::storage_failed);
  CHECK_THAT(message_of(db.error()), Catch::Contains(path)
                                       && Catch::Contains("999")
                                       && Catch::Contains("newer"));
}

TEST_CASE("a corrupt file is a storage error naming the file") {
  temp_dir dir;
  auto path = dir / "labrt.db";
  {
    std::ofstream out{path};
    for (int i = 0; i < 512; ++i)
      out << "this is no database, only garbage ";
  }
  auto db = store_db::open(dir.path);
  REQUIRE(!db);
  CHECK(code_of(db.error()) == errc::storage_failed);
  CHECK_THAT(message_of(db.error()),
             Catch::Contains(path) && Catch::Contains("file is not a database")
               && Catch::Contains("corrupt"));
}

TEST_CASE("a read-only file is refused at open") {
  temp_dir dir;
  REQUIRE(store_db::open(dir.path));
  REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
  REQUIRE(::chmod((dir / "labrt.db").c_str(), 0444) == 0);
  auto text = open_as_unprivileged(dir.path);
  CHECK_THAT(text, Catch::StartsWith("storage_failed: ")
                     && Catch::Contains(dir / "labrt.db")
                     && Catch::Contains("read-only"));
}

TEST_CASE("a read-only directory is refused at open") {
  temp_dir dir;
  REQUIRE(store_db::open(dir.path));
  // The file may be written, but WAL needs its -wal and -shm beside it.
  REQUIRE(::chmod((dir / "labrt.db").c_str(), 0666) == 0);
  REQUIRE(::chmod(dir.path.c_str(), 0555) == 0);
  auto text = open_as_unprivileged(dir.path);
  REQUIRE(::chmod(dir.path.c_str(), 0700) == 0);
  CHECK_THAT(text, Catch::StartsWith("storage_failed: ")
                     && Catch::Contains(dir / "labrt.db")
                     && Catch::Contains("read-only"));
}

TEST_CASE("a full disk fails the commit whole and clearly and the database "
          "goes on") {
  temp_dir dir;
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  REQUIRE(!db->commit_kv(one_write("kept", 1, 1), 1));
  // The file may not grow past its size now, as on a full disk.
  auto pages = db->query_int("PRAGMA page_count");
  REQUIRE(pages);
  REQUIRE(!db->exec("PRAGMA max_page_count = " + std::to_string(*pages)));
  auto err = db->commit_kv({kv_write{"small", "2", 2, false},
                            kv_write{"big", json(std::string(1 << 20, 'x')).dump(),
                                     3, false}},
                           3);
  REQUIRE(err);
  CHECK(code_of(err) == errc::storage_failed);
  CHECK_THAT(message_of(err), Catch::Contains(dir / "labrt.db")
                                && Catch::Contains("disk is full"));
  auto image = db->load_kv();
  INFO((image ? "" : render(image.error())));
  REQUIRE(image);
  CHECK(image->revision == 1);
  REQUIRE(image->rows.size() == 1); // not "small" either
  CHECK(image->rows[0].key == "kept");
  // Room again: the same connection commits.
  REQUIRE(!db->exec("PRAGMA max_page_count = 1073741823"));
  CHECK(!db->commit_kv(one_write("small", 2, 2), 2));
  CHECK(db->load_kv()->revision == 2);
}

TEST_CASE("a state directory that does not exist is a storage error") {
  temp_dir dir;
  auto db = store_db::open(dir / "missing");
  REQUIRE(!db);
  CHECK(code_of(db.error()) == errc::storage_failed);
  CHECK_THAT(message_of(db.error()), Catch::Contains(dir / "missing/labrt.db")
                                       && Catch::Contains("cannot open"));
}

// -- runs and service transitions -----------------------------------------

TEST_CASE("commits leave the checkpoint to store_db::checkpoint") {
  temp_dir dir;
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  // About 5 MB of changes: SQLite's own checkpoint would have run at 1000
  // pages, syncing the file inside a commit.
  std::string big(100 * 1024, 'x');
  for (uint64_t rev = 1; rev <= 50; ++rev)
    REQUIRE(!db->commit_kv({kv_write{"k" + std::to_string(rev),
                                     json(big).dump(), rev, false}},
                           rev));
  CHECK(db->wal_pages() > 1000);
  REQUIRE(!store_db::checkpoint(db->path()));
  // Everything was copied: the next commit starts the log over.
  REQUIRE(!db->commit_kv({kv_write{"after", "1", 51, false}}, 51));
  CHECK(db->wal_pages() < 10);
  CHECK(db->query_int("SELECT count(*) FROM kv") == 51);
  // A file that cannot be opened is a storage error naming it.
  auto err = store_db::checkpoint(dir.path + "/missing/labrt.db");
  CHECK(code_of(err) == errc::storage_failed);
  CHECK(message_of(err).find("missing") != std::string::npos);
}
