// The kv store over HTTP: ETags, conditional writes, patches, and concurrent
// conditional updates that lose nothing.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "http_support.hpp"

using namespace labrt;
using namespace labrt::test;

TEST_CASE("kv over HTTP: ETag, If-Match, patches", "[http]") {
  api a;
  auto cli = a.connect();
  auto put = cli.Put("/api/kv/doc", R"({"a": 1, "b": {"c": 2}})",
                     "application/json");
  REQUIRE(put);
  CHECK(put->status == 200);
  CHECK(put->get_header_value("ETag") == "\"1\"");
  auto got = cli.Get("/api/kv/doc");
  REQUIRE(got);
  CHECK(got->get_header_value("ETag") == "\"1\"");
  CHECK(json::parse(got->body).at("value").at("b").at("c") == 2);
  auto merged = body_of(cli.Patch("/api/kv/doc", R"({"b": {"c": null}, "d": 4})",
                                  "application/merge-patch+json"));
  CHECK(merged.at("value") == json::parse(R"({"a": 1, "b": {}, "d": 4})"));
  auto patched = body_of(cli.Patch(
    "/api/kv/doc",
    R"([{"op": "test", "path": "/a", "value": 1},
        {"op": "replace", "path": "/a", "value": 10}])",
    "application/json-patch+json"));
  CHECK(patched.at("value").at("a") == 10);
  auto rev = patched.at("revision").get<uint64_t>();
  httplib::Headers match{{"If-Match", "\"" + std::to_string(rev) + "\""}};
  auto cond = cli.Put("/api/kv/doc", match, "\"replaced\"", "application/json");
  REQUIRE(cond);
  CHECK(cond->status == 200);
  // Create-only with If-None-Match: *.
  httplib::Headers create{{"If-None-Match", "*"}};
  CHECK(cli.Put("/api/kv/new", create, "1", "application/json")->status == 200);
  CHECK(cli.Put("/api/kv/new", create, "2", "application/json")->status == 412);
  // Conditional and plain deletes.
  require_error(cli.Delete("/api/kv/doc", match), 412, "precondition_failed");
  CHECK(body_of(cli.Delete("/api/kv/doc")).at("deleted") == true);
  require_error(cli.Delete("/api/kv/doc"), 404, "not_found");
  auto listing = body_of(cli.Get("/api/kv"));
  REQUIRE(listing.at("entries").size() == 1);
  CHECK(listing.at("entries")[0].at("key") == "new");
}

TEST_CASE("conditional kv updates from 8 threads lose nothing", "[http]") {
  api a;
  {
    auto cli = a.connect();
    body_of(cli.Put("/api/kv/counter", "0", "application/json"));
  }
  constexpr int threads = 8;
  constexpr int increments = 25;
  std::vector<std::thread> workers;
  std::atomic<int> conflicts{0};
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      auto cli = a.connect();
      for (int i = 0; i < increments;) {
        auto got = cli.Get("/api/kv/counter");
        if (!got || got->status != 200)
          return;
        auto value = json::parse(got->body).at("value").get<int>();
        httplib::Headers match{{"If-Match", got->get_header_value("ETag")}};
        auto put = cli.Put("/api/kv/counter", match,
                           std::to_string(value + 1), "application/json");
        if (!put)
          return;
        if (put->status == 200)
          ++i;
        else
          ++conflicts;
      }
    });
  for (auto& w : workers)
    w.join();
  auto cli = a.connect();
  CHECK(body_of(cli.Get("/api/kv/counter")).at("value")
        == threads * increments);
  INFO("conflicts retried: " << conflicts.load());
}

TEST_CASE("PATCH honours If-Match, and If-Match with a star needs the key", "[http]") {
  api a;
  auto cli = a.connect();
  auto merge = "application/merge-patch+json";
  body_of(cli.Put("/api/kv/doc", R"({"n": 1})", "application/json"));
  httplib::Headers at1{{"If-Match", "\"1\""}};
  auto patched = cli.Patch("/api/kv/doc", at1, R"({"m": 2})", merge);
  REQUIRE(patched);
  CHECK(patched->status == 200);
  CHECK(patched->get_header_value("ETag") == "\"2\"");
  // The same stale revision again: a lost update, refused with the current one.
  auto stale = cli.Patch("/api/kv/doc", at1, R"({"n": 99})", merge);
  require_error(stale, 412, "precondition_failed");
  CHECK(json::parse(stale->body).at("revision") == 2);
  CHECK(body_of(cli.Get("/api/kv/doc")).at("value") == json{{"n", 1}, {"m", 2}});
  httplib::Headers any{{"If-Match", "*"}};
  auto json_patch = "application/json-patch+json";
  CHECK(cli.Patch("/api/kv/doc", any, R"([{"op": "add", "path": "/k", "value": 3}])",
                  json_patch)
          ->status
        == 200);
  CHECK(cli.Put("/api/kv/doc", any, "7", "application/json")->status == 200);
  CHECK(cli.Delete("/api/kv/doc", any)->status == 200);
  // On an absent key every If-Match: * write is 412 and creates nothing.
  require_error(cli.Patch("/api/kv/doc", any, R"({"n": 1})", merge), 412,
                "precondition_failed");
  require_error(cli.Put("/api/kv/doc", any, "1", "application/json"), 412,
                "precondition_failed");
  require_error(cli.Delete("/api/kv/doc", any), 412, "precondition_failed");
  require_error(cli.Get("/api/kv/doc"), 404, "not_found");
  httplib::Headers both{{"If-Match", "*"}, {"If-None-Match", "*"}};
  require_error(cli.Put("/api/kv/doc", both, "1", "application/json"), 400,
                "invalid_argument");
  // Conditional patches from 4 threads lose no increment.
  body_of(cli.Put("/api/kv/counter", "0", "application/json"));
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&a] {
      auto c = a.connect();
      for (int done = 0; done < 10;) {
        auto got = c.Get("/api/kv/counter");
        if (!got || got->status != 200)
          return;
        auto next = json::parse(got->body).at("value").get<int>() + 1;
        httplib::Headers match{{"If-Match", got->get_header_value("ETag")}};
        auto res = c.Patch("/api/kv/counter", match,
                           json::array({{{"op", "replace"}, {"path", ""},
                                         {"value", next}}})
                             .dump(),
                           "application/json-patch+json");
        if (!res || (res->status != 200 && res->status != 412))
          return;
        done += res->status == 200 ? 1 : 0;
      }
    });
  for (auto& w : workers)
    w.join();
  CHECK(body_of(cli.Get("/api/kv/counter")).at("value") == 40);
}
