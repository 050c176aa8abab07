// The old managers' writes over HTTP, for remote clients (a web app's worker
// processes sharing one state): service-status entries, the test-status
// record's start/stop/reset, kv namespaces.
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <httplib.h>

#include "http_support.hpp"

using namespace labrt;
using namespace labrt::test;

TEST_CASE("service status entries are set and read over HTTP", "[http]") {
  api a;
  auto cli = a.connect();
  auto set = cli.Put("/api/status/qsfp_service", "true", "application/json");
  CHECK(body_of(set).at("entry") == "qsfp_service");
  CHECK(set->status == 200);
  CHECK(body_of(cli.Get("/api/status/qsfp_service")) == true);
  auto patched = cli.Patch("/api/status",
                           R"({"qsfp_service_cmd": "/bin/q", "extra": true})",
                           "application/json");
  INFO(patched->body);
  CHECK(patched->status == 200);
  auto all = body_of(cli.Get("/api/status"));
  CHECK(all.at("qsfp_service") == true);
  CHECK(all.at("qsfp_service_cmd") == "/bin/q");
  CHECK(all.at("extra") == true);
  // The strict rules hold: a service's own entry is a bool.
  require_error(cli.Put("/api/status/qsfp_service", "1", "application/json"),
                400, "wrong_type");
  CHECK(body_of(cli.Get("/api/status/nope")).is_null());
  // Bad input changes nothing.
  require_error(cli.Patch("/api/status", "[1]", "application/json"), 400,
                "wrong_type");
  require_error(cli.Put("/api/status/x", "{", "application/json"), 400,
                "invalid_argument");
  CHECK(body_of(cli.Get("/api/status")) == all);
}

TEST_CASE("the test status record's old operations over HTTP", "[http]") {
  api a;
  auto cli = a.connect();
  auto started = post(cli, "/api/test/status/start",
                      {{"script", "link.py"}, {"pid", 0}, {"bin", "fboss"}});
  INFO(started->body);
  REQUIRE(started->status == 200);
  CHECK(body_of(started).at("running") == true);
  CHECK(body_of(started).at("pid") == 0); // As the old module accepted.
  CHECK(body_of(started).at("bin") == "fboss");
  // Never two at once.
  require_error(post(cli, "/api/test/status/start",
                     {{"script", "other.py"}, {"pid", 2}}),
                409, "already_running");
  // Waiting for the slot: the state when the wait runs out, still running.
  auto busy = body_of(cli.Get("/api/test/status/idle?wait_ms=50"));
  CHECK(busy.at("running") == true);
  CHECK(busy.at("script") == "link.py");
  // And when the test stops meanwhile, at once.
  auto waiter = std::async(std::launch::async, [&a] {
    auto c = a.connect();
    return c.Get("/api/test/status/idle?wait_ms=60000");
  });
  // With no body at all, as `curl -X POST URL` sends it.
  auto stopped = cli.Post("/api/test/status/stop");
  REQUIRE(stopped);
  CHECK(stopped->status == 200);
  CHECK(body_of(waiter.get()).at("running") == false);
  auto next = post(cli, "/api/test/status/start",
                   {{"script", "next.py"}, {"pid", 3}});
  CHECK(body_of(next).at("script") == "next.py");
  require_error(cli.Get("/api/test/status/idle"), 400, "invalid_argument");
  require_error(cli.Get("/api/test/status/idle?wait_ms=600001"), 400,
                "invalid_argument");
  auto patched = cli.Patch("/api/test/status", R"({"topology": "t2"})",
                           "application/json");
  CHECK(body_of(patched).at("topology") == "t2");
  auto reset = cli.Post("/api/test/status/reset");
  CHECK(body_of(reset).at("running") == false);
  CHECK(body_of(reset).at("script").is_null());
  // Bad starts change nothing.
  for (auto bad : {json{{"pid", 1}}, json{{"script", 5}}})
    require_error(post(cli, "/api/test/status/start", bad), 400,
                  "invalid_argument");
  require_error(post(cli, "/api/test/status/start", json::array()), 400,
                "wrong_type");
  CHECK(body_of(cli.Get("/api/test/status")).at("running") == false);
}

TEST_CASE("kv namespaces: the keys under a prefix, read and cleared",
          "[http]") {
  api a;
  auto cli = a.connect();
  for (auto key : {"users/a", "users/b", "usersx", "other/a"})
    REQUIRE(cli.Put(("/api/kv/" + std::string{key}).c_str(), "1",
                    "application/json")->status == 200);
  auto users = body_of(cli.Get("/api/kv?prefix=users/"));
  REQUIRE(users.at("entries").size() == 2);
  CHECK(users.at("entries")[0].at("key") == "users/a");
  CHECK(users.at("entries")[1].at("key") == "users/b");
  auto cleared = cli.Delete("/api/kv?prefix=users/");
  CHECK(body_of(cleared).at("revision").get<uint64_t>()
        == users.at("revision").get<uint64_t>() + 2);
  auto left = body_of(cli.Get("/api/kv"));
  REQUIRE(left.at("entries").size() == 2);
  CHECK(left.at("entries")[0].at("key") == "other/a");
  CHECK(left.at("entries")[1].at("key") == "usersx");
  // Clearing everything takes more than a forgotten parameter.
  require_error(cli.Delete("/api/kv"), 400, "invalid_argument");
  CHECK(body_of(cli.Get("/api/kv")).at("entries").size() == 2);
}

TEST_CASE("PATCH /api/kv sets several keys in one step", "[http]") {
  api a;
  auto cli = a.connect();
  auto before = body_of(cli.Get("/api/kv")).at("revision").get<uint64_t>();
  auto set = cli.Patch("/api/kv", R"({"ns/a": 1, "ns/b": {"x": [2]}})",
                       "application/json");
  // One message: each key gets its revision, the answer is the last.
  CHECK(body_of(set).at("revision").get<uint64_t>() == before + 2);
  auto entries = body_of(cli.Get("/api/kv?prefix=ns/")).at("entries");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].at("value") == 1);
  CHECK(entries[1].at("value") == json{{"x", json::array({2})}});
  // Anything but an object changes nothing.
  require_error(cli.Patch("/api/kv", "[1]", "application/json"), 400,
                "wrong_type");
  require_error(cli.Patch("/api/kv", "{", "application/json"), 400,
                "invalid_argument");
  CHECK(body_of(cli.Get("/api/kv")).at("revision").get<uint64_t>() == before + 2);
}

TEST_CASE("a wait for the slot does not hold the daemon's stop", "[http]") {
  auto a = std::make_unique<api>();
  auto cli = a->connect();
  REQUIRE(post(cli, "/api/test/status/start", {{"script", "a.py"}, {"pid", 1}})
            ->status == 200);
  auto waiter = std::async(std::launch::async, [&a] {
    auto c = a->connect();
    return c.Get("/api/test/status/idle?wait_ms=60000");
  });
  // Once the wait is in the server (it counts as an open stream), stop it.
  auto waiting = [&] {
    auto m = cli.Get("/api/metrics");
    return m && m->body.find("\nlabrt_http_streams_open 1\n") != std::string::npos;
  };
  for (auto until = std::chrono::steady_clock::now() + deadline;
       !waiting() && std::chrono::steady_clock::now() < until;)
    std::this_thread::yield();
  REQUIRE(waiting());
  a.reset(); // Returns only once every request has ended.
  auto answer = waiter.get();
  REQUIRE(answer);
  CHECK(answer->status == 200);
  CHECK(json::parse(answer->body).at("running") == true);
}
