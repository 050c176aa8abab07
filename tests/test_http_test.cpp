// The test runner over HTTP: start, status, logs, stop and kill, the queue,
// the history, and the starts that are refused.
#include <signal.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "http_support.hpp"
#include "src/proc_tree.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

/// No process of the run is left and no zombie of it waits for us.
void require_nothing_left(const json& rec) {
  auto cookie = rec.at("cookie").get<std::string>();
  INFO("run " << rec.at("run_id") << " cookie " << cookie);
  REQUIRE_FALSE(cookie.empty());
  CHECK(find_by_cookie(cookie).empty());
  auto pid = rec.at("pid").get<int>();
  CHECK((pid <= 0 || ::kill(pid, 0) != 0));
  CHECK(zombie_children().empty());
}

} // namespace

TEST_CASE("start, status, logs and stop of a test run", "[http]") {
  api a;
  auto cli = a.connect();
  auto started = cli.Post("/api/test/start",
                          R"({"script": "sleep.sh", "args": ["30"],
                              "topology": "t1", "bin": "fboss"})",
                          "application/json");
  REQUIRE(started);
  INFO(started->body);
  REQUIRE(started->status == 201);
  auto rec = json::parse(started->body);
  CHECK(rec.at("state") == "running");
  // Stop only once the script has spoken, so that its log has a line.
  auto seen = read_events(cli, {}, [](const std::vector<sse_event>& evs) {
    for (auto& ev : evs)
      if (ev.kind == "output" && ev.data.dump().find("ready") != std::string::npos)
        return true;
    return false;
  });
  REQUIRE_FALSE(seen.empty());
  // The run's record comes before its output, from the runner.
  size_t first_run = seen.size(), first_output = seen.size();
  uint64_t newest = 0;
  for (size_t i = 0; i < seen.size(); ++i) {
    auto& ev = seen[i];
    if (ev.kind == "run" && ev.data.at("run_id") == rec.at("run_id"))
      first_run = std::min(first_run, i);
    if (ev.kind == "output" && ev.data.at("run_id") == rec.at("run_id"))
      first_output = std::min(first_output, i);
    if (ev.kind == "test")
      newest = std::max(newest, ev.data.at("revision").get<uint64_t>());
  }
  CHECK(first_run < first_output);
  CHECK(seen[first_run].data.at("pid") == rec.at("pid"));
  // A snapshot names a revision it is at least as new as: every test
  // event the stream carried before it is at or below that.
  auto snap = cli.Get("/api/test/status");
  REQUIRE(snap);
  REQUIRE(snap->has_header("X-Labrt-Revision"));
  CHECK(std::stoull(snap->get_header_value("X-Labrt-Revision")) >= newest);
  CHECK(newest > 0);
  auto status = body_of(snap);
  CHECK(status.at("running") == true);
  CHECK(status.at("pid") == rec.at("pid"));
  CHECK(status.at("topology") == "t1");
  auto stopped = cli.Post("/api/test/stop", "", "application/json");
  REQUIRE(stopped);
  INFO(stopped->body);
  CHECK(stopped->status == 200);
  auto final_rec = json::parse(stopped->body);
  CHECK(final_rec.at("state") == "finished");
  CHECK(final_rec.at("stopped_by") == "request");
  require_nothing_left(final_rec);
  CHECK(body_of(cli.Get("/api/test/status")).at("running") == false);
  // A second stop has nothing to stop.
  require_error(cli.Post("/api/test/stop", "", "application/json"), 409,
                "not_running");
  auto log = cli.Get(("/api/test/logs?run=" + rec.at("run_id").get<std::string>())
                       .c_str());
  REQUIRE(log);
  CHECK(log->status == 200);
  CHECK(log->body.rfind("ready\n", 0) == 0);
  auto history = body_of(cli.Get("/api/history?limit=5"));
  REQUIRE(history.size() == 1);
  CHECK(history[0].at("run_id") == rec.at("run_id"));
  CHECK(history[0].at("outcome") == "stopped");
  // Queries: by outcome, script, words and day.
  CHECK(body_of(cli.Get("/api/history?outcome=stopped&script=sleep.sh&q=30"))
          .size() == 1);
  CHECK(body_of(cli.Get("/api/history?outcome=passed")).empty());
  CHECK(body_of(cli.Get("/api/history?q=fboss+t1")).size() == 1);
  CHECK(body_of(cli.Get("/api/history?until=2000-01-01")).empty());
  CHECK(body_of(cli.Get("/api/history?since=2000-01-01")).size() == 1);
}

TEST_CASE("following a log streams lines until the run ends", "[http]") {
  api a;
  auto cli = a.connect();
  auto rec = body_of(post(cli, "/api/test/start",
                          {{"script", "sleep.sh"}, {"args", {"1"}}}));
  std::string text;
  auto res = cli.Get(("/api/test/logs?follow=1&run="
                      + rec.at("run_id").get<std::string>())
                       .c_str(),
                     [&](const char* data, size_t n) {
                       text.append(data, n);
                       return true;
                     });
  REQUIRE(res);
  CHECK(res->status == 200);
  // The stream ended by itself, after the run's last line.
  CHECK(text == "ready\ndone\n");
}

TEST_CASE("20 clients racing to start: one 201, nineteen 409", "[http]") {
  api a;
  std::promise<void> go;
  auto gate = go.get_future().share();
  std::vector<std::future<std::pair<int, json>>> results;
  for (int i = 0; i < 20; ++i)
    results.push_back(std::async(std::launch::async, [&a, gate] {
      auto cli = a.connect();
      gate.wait();
      auto res = post(cli, "/api/test/start",
                      {{"script", "sleep.sh"}, {"args", {"30"}}});
      // No REQUIRE off the main thread: Catch2 v2 is not thread-safe.
      if (!res)
        return std::make_pair(-static_cast<int>(res.error()), json{});
      return std::make_pair(res->status, json::parse(res->body));
    }));
  go.set_value();
  int created = 0;
  int refused = 0;
  json winner;
  for (auto& f : results) {
    auto [status, body] = f.get();
    if (status == 201) {
      ++created;
      winner = body;
    } else if (status == 409 && body.at("code") == "already_running") {
      ++refused;
    } else {
      UNSCOPED_INFO("status " << status << ": " << body.dump());
    }
  }
  CHECK(created == 1);
  CHECK(refused == 19);
  REQUIRE(created == 1);
  auto cli = a.connect();
  // The refusal names the running test.
  auto again = post(cli, "/api/test/start", {{"script", "sleep.sh"}});
  REQUIRE(again);
  CHECK(again->body.find(winner.at("run_id").get<std::string>())
        != std::string::npos);
  auto stopped = body_of(cli.Post("/api/test/kill", "", "application/json"));
  require_nothing_left(stopped);
}

TEST_CASE("kill of a TERM-ignoring tree leaves no process", "[http]") {
  api a;
  auto cli = a.connect();
  auto rec = body_of(post(cli, "/api/test/start", {{"script", "stubborn.sh"}}));
  // Wait until both loops exist, so that there is a tree to kill.
  auto cookie = rec.at("cookie").get<std::string>();
  auto until = std::chrono::steady_clock::now() + deadline;
  while (find_by_cookie(cookie).size() < 3
         && std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
  REQUIRE(find_by_cookie(cookie).size() >= 3);
  auto res = cli.Post("/api/test/kill", "", "application/json");
  REQUIRE(res);
  INFO(res->body);
  CHECK(res->status == 200);
  auto final_rec = json::parse(res->body);
  CHECK(final_rec.at("signal").at("name") == "SIGKILL");
  require_nothing_left(final_rec);
}

TEST_CASE("the run queue over HTTP", "[http]") {
  api a;
  auto cli = a.connect();
  auto first = cli.Post("/api/test/queue", R"({"script": "sleep.sh", "args": ["30"]})",
                        "application/json");
  REQUIRE(first);
  CHECK(first->status == 201);
  auto second = body_of(post(cli, "/api/test/queue",
                             {{"script", "sleep.sh"}, {"args", {"30"}}}));
  CHECK(second.at("state") == "queued");
  auto queue = body_of(cli.Get("/api/test/queue"));
  REQUIRE(queue.size() == 1);
  CHECK(queue[0].at("run_id") == second.at("run_id"));
  auto id = second.at("run_id").get<std::string>();
  auto cancelled = body_of(cli.Delete(("/api/test/queue/" + id).c_str()));
  CHECK(cancelled.at("state") == "cancelled");
  CHECK(body_of(cli.Get("/api/test/queue")).empty());
  require_error(cli.Delete(("/api/test/queue/" + id).c_str()), 404,
                "not_found");
  // Each change of the queue is an event: queued, then cancelled.
  auto queue_events = [](const std::vector<sse_event>& evs) {
    std::vector<json> result;
    for (auto& ev : evs)
      if (ev.kind == "queue")
        result.push_back(ev.data.at("queue"));
    return result;
  };
  auto evs = read_events(cli, {}, [&](const std::vector<sse_event>& got) {
    return queue_events(got).size() >= 2;
  });
  auto queues = queue_events(evs);
  REQUIRE(queues.size() == 2);
  REQUIRE(queues[0].size() == 1);
  CHECK(queues[0][0].at("run_id") == id);
  CHECK(queues[1].empty());
  body_of(cli.Post("/api/test/stop", "", "application/json"));
}

TEST_CASE("a start with a bad timeout_ms gets 400 and starts nothing",
          "[http]") {
  api a;
  auto cli = a.connect();
  for (auto bad : {"1.5", "9223372036854775807", "9223372036854",
                   "18446744073709551615", "-2", "2592000001"}) {
    INFO(bad);
    auto res = cli.Post("/api/test/start",
                        std::string{R"({"script": "exit_with.sh", )"}
                          + R"("timeout_ms": )" + bad + "}",
                        "application/json");
    REQUIRE(res);
    INFO(res->body);
    CHECK(res->status == 400);
    CHECK(json::parse(res->body).at("error").get<std::string>().find(
            "timeout_ms must be an integer from 0 to 2592000000")
          != std::string::npos);
  }
  CHECK(body_of(cli.Get("/api/test/status")).at("running") == false);
  CHECK(body_of(cli.Get("/api/history")).empty());
}

TEST_CASE("starts over the size limits get 400 and hold no memory", "[http]") {
  api a;
  auto cli = a.connect();
  // 200k arguments in a body under the 1 MiB cap.
  json body = {{"script", "exit_with.sh"},
               {"args", std::vector<std::string>(200000, "x")}};
  auto text = body.dump();
  REQUIRE(text.size() < 1024 * 1024);
  auto once = [&] {
    auto res = cli.Post("/api/test/start", text, "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(json::parse(res->body).at("error").get<std::string>().find(
            "too many args: 200000 (at most 4096)")
          != std::string::npos);
  };
  once(); // warm-up: the server's thread and allocator arenas
  [[maybe_unused]] auto rss_before = read_rss_kb().now;
  [[maybe_unused]] auto peak = peak_growth_kb([&] {
    for (int i = 0; i < 10; ++i)
      once();
  });
  [[maybe_unused]] auto rss_after = read_rss_kb().now;
// Sanitizers keep freed memory in quarantine and add shadow memory.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // Each request comes on a new connection, so on another pool thread.
  INFO("peak growth " << peak << " kB, RSS " << rss_before << " -> "
                      << rss_after << " kB");
  CHECK(peak < 30 * 1024);
  CHECK(rss_after < rss_before + 30 * 1024);
#endif
  CHECK(body_of(cli.Get("/api/test/status")).at("running") == false);
  CHECK(body_of(cli.Get("/api/history")).empty());
}

TEST_CASE("env that changes how a script runs cannot be set over HTTP",
          "[http]") {
  api a;
  auto cli = a.connect();
  for (auto name : {"LD_PRELOAD", "BASH_ENV", "PATH", "IFS", "PYTHONPATH",
                    "LABRT_RUN_COOKIE"})
    require_error(post(cli, "/api/test/start",
                       {{"script", "exit_with.sh"}, {"env", {{name, "x"}}}}),
                  403, "forbidden");
  require_error(post(cli, "/api/test/start",
                     {{"script", "exit_with.sh"},
                      {"env", {{"BASH_FUNC_echo%%", "() { id; }"}}}}),
                400, "invalid_argument");
  CHECK(body_of(cli.Get("/api/history")).empty());
  auto ok = post(cli, "/api/test/start",
                 {{"script", "exit_with.sh"}, {"args", {"0"}},
                  {"env", {{"TOPOLOGY", "t1"}}}});
  REQUIRE(ok);
  CHECK(ok->status == 201);
}

TEST_CASE("a start that cannot spawn gets 400 and leaves nothing open",
          "[http]") {
  api a;
  auto cli = a.connect();
  require_error(post(cli, "/api/test/start",
                     {{"script", "exit_with.sh"}, {"env", {{"A=B", "1"}}}}),
                400, "invalid_argument");
  require_error(post(cli, "/api/test/start",
                     {{"script", "exit_with.sh"},
                      {"args", {std::string{"a\0b", 3}}}}),
                400, "invalid_argument");
  CHECK(body_of(cli.Get("/api/history")).empty());
  require_error(post(cli, "/api/test/start", {{"script", "not_executable.sh"}}),
                400, "spawn_failed");
  auto history = body_of(cli.Get("/api/history"));
  REQUIRE(history.size() == 1);
  INFO(history.dump());
  CHECK(history[0].at("state") == "failed");
  CHECK(history[0].at("ended_at").is_string());
  CHECK(history[0].at("error").is_string());
  // The run held the test slot from before the spawn and freed it.
  auto status = body_of(cli.Get("/api/test/status"));
  CHECK(status.at("running") == false);
  CHECK(status.at("pid").is_null());
  CHECK(status.value("run_id", json{}) == history[0].at("run_id"));
  CHECK(zombie_children().empty());
}

TEST_CASE("a run's record and log are served after a restart", "[http]") {
  temp_dir state{"labrt-state"};
  std::string id;
  std::string log_path;
  {
    api a{{}, state.path};
    auto cli = a.connect();
    auto started = post(cli, "/api/test/start",
                        json{{"script", "exit_with.sh"}, {"args", {"4"}}});
    REQUIRE(started);
    REQUIRE(started->status == 201);
    id = json::parse(started->body).at("run_id");
    client c{*a.rt};
    auto ended = c.runner().wait(id, deadline);
    REQUIRE(ended);
    log_path = ended->log;
  }
  api a{{}, state.path};
  auto cli = a.connect();
  auto rec = body_of(cli.Get(("/api/history/" + id).c_str()));
  CHECK(rec.at("exit_code") == 4);
  CHECK(rec.at("outcome") == "failed");
  CHECK(rec.at("log") == log_path);
  auto history = body_of(cli.Get("/api/history?outcome=failed"));
  REQUIRE(history.size() == 1);
  CHECK(history[0].at("run_id") == id);
  auto log = cli.Get(("/api/test/logs?run=" + id).c_str());
  REQUIRE(log);
  CHECK(log->status == 200);
  CHECK(log->get_header_value("X-Run-Id") == id);
  require_error(cli.Get("/api/history/no-such-run"), 404, "not_found");
}
