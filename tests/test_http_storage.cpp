// Bad storage at run time: a failed commit is a clear error for its write
// and a degraded state on /healthz and /api/metrics until a commit succeeds.
#include <sqlite3.h>

#include "http_support.hpp"

using namespace labrt;
using namespace labrt::test;

TEST_CASE("a database another process holds degrades the storage visibly",
          "[http]") {
  temp_dir state{"labrt-state"};
  api a{{}, state.path};
  auto cli = a.connect();
  auto health = body_of(cli.Get("/healthz"));
  CHECK(health.at("status") == "ok");
  CHECK(health.at("storage").at("state") == "ok");
  auto put = cli.Put("/api/kv/k", "1", "application/json");
  REQUIRE(put);
  CHECK(put->status == 200);
  // Another process takes the write lock and keeps it: commits fail (after
  // SQLite's busy timeout) as they would on a full or broken disk.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open((state / "labrt.db").c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr)
          == SQLITE_OK);
  auto refused = cli.Put("/api/kv/k", "2", "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 503);
  auto err = json::parse(refused->body);
  CHECK(err.at("code") == "storage_failed");
  CHECK_THAT(err.at("error").get<std::string>(),
             Catch::Contains(state / "labrt.db")
               && Catch::Contains("another process holds the database"));
  health = body_of(cli.Get("/healthz"));
  CHECK(health.at("status") == "degraded");
  CHECK(health.at("storage").at("state") == "degraded");
  CHECK_THAT(health.at("storage").at("error").get<std::string>(),
             Catch::Contains("database is locked"));
  auto metrics = cli.Get("/api/metrics");
  REQUIRE(metrics);
  CHECK_THAT(metrics->body, Catch::Contains("labrt_storage_degraded{error=\"")
                              && Catch::Contains("labrt_storage_failures_total 1"));
  // Nothing of the refused write was applied.
  CHECK(body_of(cli.Get("/api/kv/k")).at("value") == 1);
  REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr)
          == SQLITE_OK);
  sqlite3_close(other);
  put = cli.Put("/api/kv/k", "3", "application/json");
  REQUIRE(put);
  CHECK(put->status == 200);
  health = body_of(cli.Get("/healthz"));
  CHECK(health.at("status") == "ok");
  CHECK(health.at("storage").at("failures") == 1);
}

TEST_CASE("without a state_dir the storage is memory", "[http]") {
  api a;
  auto cli = a.connect();
  auto health = body_of(cli.Get("/healthz"));
  CHECK(health.at("status") == "ok");
  CHECK(health.at("storage").at("state") == "memory");
  auto metrics = cli.Get("/api/metrics");
  REQUIRE(metrics);
  CHECK_THAT(metrics->body, !Catch::Contains("labrt_storage_degraded"));
}
