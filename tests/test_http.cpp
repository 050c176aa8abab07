// The HTTP/JSON API over real sockets on 127.0.0.1, with real scripts, and
// the daemon (`labctl serve`) as a real process.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <thread>

#include <httplib.h>

#include "http_support.hpp"
#include "labrt/http.hpp"
#include "labrt/sse.hpp"
#include "src/proc_tree.hpp"
#include "src/process.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;

namespace {

json body_of(const httplib::Result& res) {
  REQUIRE(res);
  INFO(res->body);
  return json::parse(res->body);
}

/// Replies with `status` and a JSON error body carrying `code`.
void require_error(const httplib::Result& res, int status,
                   const std::string& code) {
  REQUIRE(res);
  INFO(res->body);
  CHECK(res->status == status);
  auto body = json::parse(res->body);
  CHECK(body.at("code") == code);
  CHECK(body.at("error").is_string());
}

httplib::Result post(httplib::Client& cli, const std::string& path,
                     const json& body) {
  return cli.Post(path.c_str(), body.dump(), "application/json");
}

/// One Server-Sent Event.
struct sse_event {
  uint64_t id = 0;
  std::string kind;
  json data;
};

/// Reads /api/events until `enough` holds (or the read times out).
std::vector<sse_event>
read_events(httplib::Client& cli, httplib::Headers headers,
            const std::function<bool(const std::vector<sse_event>&)>& enough) {
  std::vector<sse_event> events;
  sse::parser parser;
  cli.Get("/api/events", headers, [&](const char* data, size_t n) {
    for (auto& ev : parser.feed({data, n}))
      events.push_back({ev.id, ev.kind, json::parse(ev.data)});
    return !enough(events);
  });
  return events;
}

/// A reply read off a raw socket.
struct raw_reply {
  int status = 0;
  std::string head; ///< Status line and headers.
  std::string body;
};

/// A client connection that sends bytes as given, so that requests can lack
/// what httplib's client always adds (Content-Length) or be malformed.
/// It never half-closes: a server that waits for a body would wait.
struct raw_conn {
  explicit raw_conn(uint16_t port) {
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.get() >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr),
                      sizeof addr)
            == 0);
  }

  void send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      auto n = ::send(fd.get(), bytes.data() + sent, bytes.size() - sent,
                      MSG_NOSIGNAL);
      REQUIRE(n > 0);
      sent += static_cast<size_t>(n);
    }
  }

  /// The next reply, which must be complete before `limit` runs out.
  raw_reply receive(std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    auto complete = [this]() -> std::optional<size_t> {
      auto end = buffer.find("\r\n\r\n");
      if (end == std::string::npos)
        return std::nullopt;
      auto head = buffer.substr(0, end);
      size_t length = 0;
      auto at = head.find("Content-Length: ");
      if (at != std::string::npos)
        length = std::stoul(head.substr(at + 16));
      if (buffer.size() < end + 4 + length)
        return std::nullopt;
      return end + 4 + length;
    };
    while (!complete()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
      pollfd p{fd.get(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        FAIL("no complete reply within " << limit.count() << " ms; got: "
                                         << buffer);
      char buf[4096];
      auto n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n <= 0)
        FAIL("the server closed the connection; got: " << buffer);
      buffer.append(buf, static_cast<size_t>(n));
    }
    auto size = *complete();
    auto end = buffer.find("\r\n\r\n");
    raw_reply r;
    r.head = buffer.substr(0, end);
    r.body = buffer.substr(end + 4, size - end - 4);
    r.status = std::stoi(r.head.substr(9, 3));
    buffer.erase(0, size);
    return r;
  }

  unique_fd fd;
  std::string buffer;
};

/// Well before httplib's 5 s read timeout, which a server waiting for a body
/// that never comes would run into.
constexpr std::chrono::milliseconds at_once{2500};

/// The error code of a raw reply's JSON body.
std::string code_of(const raw_reply& r) {
  INFO(r.head << "\n\n" << r.body);
  return json::parse(r.body).at("code").get<std::string>();
}

/// Runs `command` with /bin/sh; its exit status and output.
std::pair<int, std::string> run_shell(const std::string& command) {
  auto* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
    output.append(buf, n);
  auto status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

bool has_kv_key(const std::vector<sse_event>& events, const std::string& key) {
  for (auto& ev : events)
    if (ev.kind == "kv" && ev.data.at("key") == key)
      return true;
  return false;
}

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

TEST_CASE("health, services, unknown routes", "[http]") {
  api a;
  auto cli = a.connect();
  auto health = body_of(cli.Get("/healthz"));
  CHECK(health.at("status") == "ok");
  CHECK(health.at("name") == "test-lab");
  auto services = body_of(cli.Get("/api/services"));
  CHECK(services.at("status").at("qsfp_service") == false);
  CHECK(services.at("services").is_array());
  require_error(cli.Get("/api/services/no_such_service"), 404, "not_found");
  require_error(cli.Get("/api/nothing/here"), 404, "not_found");
  auto page = cli.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type").rfind("text/html", 0) == 0);
}

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

TEST_CASE("bad input gets its 4xx and changes nothing", "[http]") {
  http_config small;
  small.max_body_bytes = 4096;
  api a{small};
  auto cli = a.connect();
  body_of(cli.Put("/api/kv/keep", "1", "application/json"));
  auto before = body_of(cli.Get("/api/kv"));
  auto json_type = "application/json";
  // Test starts.
  require_error(post(cli, "/api/test/start", {{"script", "/bin/ls"}}), 403,
                "forbidden");
  require_error(post(cli, "/api/test/start", {{"script", "../../etc/passwd"}}),
                403, "forbidden");
  require_error(post(cli, "/api/test/start", {{"script", "no_such.sh"}}), 404,
                "not_found");
  require_error(post(cli, "/api/test/start", {{"args", json::array()}}), 400,
                "invalid_argument");
  require_error(post(cli, "/api/test/start",
                     {{"script", "sleep.sh"}, {"args", "not a list"}}),
                400, "wrong_type");
  require_error(post(cli, "/api/test/start",
                     {{"script", "sleep.sh"}, {"cwd", "/"}}),
                400, "invalid_argument");
  require_error(cli.Post("/api/test/start", "{\"script\": ", json_type), 400,
                "invalid_argument");
  require_error(cli.Post("/api/test/start", "[1, 2]", json_type), 400,
                "wrong_type");
  require_error(cli.Post("/api/test/start", "{\"script\": \"\xff\xfe\"}",
                         json_type),
                400, "invalid_argument");
  require_error(cli.Post("/api/test/start", std::string(8192, ' '), json_type),
                413, "value_too_large");
  // The kv store.
  require_error(cli.Put("/api/kv/keep", "{", json_type), 400,
                "invalid_argument");
  require_error(cli.Put("/api/kv/keep", "\"\xc3\x28\"", json_type), 400,
                "invalid_argument");
  require_error(cli.Put(("/api/kv/" + std::string(300, 'k')).c_str(), "1",
                        json_type),
                400, "key_too_long");
  require_error(cli.Patch("/api/kv/keep", "{}", json_type), 415,
                "unsupported_media_type");
  require_error(cli.Patch("/api/kv/keep",
                          R"([{"op": "test", "path": "", "value": 2}])",
                          "application/json-patch+json"),
                400, "patch_failed");
  require_error(cli.Get("/api/kv/absent"), 404, "not_found");
  require_error(cli.Get("/api/history?limit=x"), 400, "invalid_argument");
  httplib::Headers stale{{"If-Match", "\"999\""}};
  auto res = cli.Put("/api/kv/keep", stale, "2", json_type);
  require_error(res, 412, "precondition_failed");
  CHECK(json::parse(res->body).at("revision") == 1);
  httplib::Headers bogus{{"If-Match", "yesterday"}};
  require_error(cli.Put("/api/kv/keep", bogus, "2", json_type), 400,
                "invalid_argument");
  // Nothing changed.
  CHECK(body_of(cli.Get("/api/kv")) == before);
  CHECK(body_of(cli.Get("/api/test/status")).at("running") == false);
  CHECK(body_of(cli.Get("/api/history")).empty());
}

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

TEST_CASE("events: live, and resumed with Last-Event-ID", "[http]") {
  api a;
  auto cli = a.connect();
  body_of(cli.Put("/api/kv/k1", "1", "application/json"));
  auto first = read_events(cli, {}, [](const std::vector<sse_event>& evs) {
    return has_kv_key(evs, "k1");
  });
  REQUIRE(has_kv_key(first, "k1"));
  auto last_id = first.back().id;
  // While nobody listens.
  body_of(cli.Put("/api/kv/k2", "2", "application/json"));
  body_of(cli.Put("/api/kv/k3", "3", "application/json"));
  httplib::Headers resume{{"Last-Event-ID", std::to_string(last_id)}};
  auto missed = read_events(cli, resume, [](const std::vector<sse_event>& evs) {
    return has_kv_key(evs, "k3");
  });
  REQUIRE(missed.size() >= 2);
  CHECK(missed[0].id == last_id + 1);
  CHECK(missed[0].data.at("key") == "k2");
  CHECK(missed[1].id == last_id + 2);
  CHECK(missed[1].data.at("key") == "k3");
  // A live event reaches a connected reader.
  std::thread writer{[&a] {
    auto w = a.connect();
    body_of(w.Put("/api/kv/k4", "4", "application/json"));
  }};
  httplib::Headers live{{"Last-Event-ID", std::to_string(last_id + 2)}};
  auto fresh = read_events(cli, live, [](const std::vector<sse_event>& evs) {
    return has_kv_key(evs, "k4");
  });
  writer.join();
  CHECK(has_kv_key(fresh, "k4"));
}

TEST_CASE("auth: bearer token on every route but /healthz", "[http]") {
  http_config http;
  http.token = "0123456789abcdef-secret";
  ::unsetenv("LABRT_TOKEN");
  api a{http};
  auto cli = a.connect();
  CHECK(cli.Get("/healthz")->status == 200);
  require_error(cli.Get("/api/test/status"), 401, "unauthorized");
  require_error(cli.Put("/api/kv/x", "1", "application/json"), 401,
                "unauthorized");
  httplib::Headers wrong{{"Authorization", "Bearer 0123456789abcdef-secreT"}};
  require_error(cli.Get("/api/test/status", wrong), 401, "unauthorized");
  httplib::Headers right{{"Authorization", "Bearer " + http.token}};
  CHECK(cli.Get("/api/test/status", right)->status == 200);
  CHECK(cli.Get(("/api/test/status?access_token=" + http.token).c_str())
          ->status
        == 200);
  // Nothing was written by the refused PUT.
  CHECK(cli.Get("/api/kv/x", right)->status == 404);
}

TEST_CASE("no token, no listening beyond loopback", "[http]") {
  ::unsetenv("LABRT_TOKEN");
  runtime_config cfg;
  cfg.event_hub = true;
  auto rt = start_runtime(cfg);
  http_config http;
  http.listen = "0.0.0.0:0";
  auto server = http_server::make(*rt, http);
  REQUIRE_FALSE(server);
  CHECK(code_of(server.error()) == errc::forbidden);
  http.token = "0123456789abcdef-secret";
  CHECK(http_server::make(*rt, http));
  CHECK(is_loopback("127.0.0.1"));
  CHECK(is_loopback("::1"));
  CHECK_FALSE(is_loopback("10.0.0.1"));
  CHECK(is_loopback("127.1.2.3"));
  CHECK(is_loopback("localhost"));
  CHECK_FALSE(is_loopback("127.lab.example.com"));
  CHECK_FALSE(is_loopback("::ffff:10.0.0.1"));
}

TEST_CASE("metrics in Prometheus text format", "[http]") {
  api a;
  auto cli = a.connect();
  body_of(cli.Get("/api/test/status"));
  auto res = cli.Get("/api/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  auto& text = res->body;
  CHECK(text.find("labrt_http_requests_total{route=\"GET /api/test/status\","
                  "code=\"2xx\"} 1")
        != std::string::npos);
  CHECK(text.find("labrt_http_request_duration_seconds_bucket") != std::string::npos);
  CHECK(text.find("labrt_manager_writes_total{manager=\"kv\"}")
        != std::string::npos);
  CHECK(text.find("labrt_runner_started_total") != std::string::npos);
}

TEST_CASE("metrics pass promtool check metrics", "[http]") {
  // The bootstrap installs Debian's prometheus: missing, it is a failure.
  REQUIRE(fs::exists("/usr/bin/promtool"));
  api a;
  auto cli = a.connect();
  body_of(cli.Put("/api/kv/k", "1", "application/json"));
  require_error(cli.Get("/api/kv/absent"), 404, "not_found");
  body_of(post(cli, "/api/test/start", {{"script", "exit_with.sh"}, {"args", {"3"}}}));
  auto res = cli.Get("/api/metrics");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  auto file = a.dir / "metrics.txt";
  std::ofstream{file} << res->body;
  auto [status, output] = run_shell("/usr/bin/promtool check metrics < "
                                    + file + " 2>&1");
  INFO(res->body);
  CHECK(output == "");
  CHECK(status == 0);
}

// -- hardening: bodies, methods, errors, limits --------------------------------

TEST_CASE("a request without Content-Length has an empty body, answered at once",
          "[http]") {
  api a;
  raw_conn conn{a.server->port()};
  // Keep-alive: every reply comes on the same connection, in order.
  conn.send("POST /api/test/stop HTTP/1.1\r\nHost: t\r\n\r\n");
  auto stop = conn.receive(at_once);
  CHECK(stop.status == 409);
  CHECK(code_of(stop) == "not_running");
  conn.send("PUT /api/kv/k HTTP/1.1\r\nHost: t\r\n"
            "Content-Type: application/json\r\n\r\n");
  auto put = conn.receive(at_once);
  CHECK(put.status == 400);
  CHECK(put.body.find("needs a JSON body") != std::string::npos);
  conn.send("PATCH /api/kv/k HTTP/1.1\r\nHost: t\r\n"
            "Content-Type: application/merge-patch+json\r\n\r\n");
  CHECK(conn.receive(at_once).status == 400);
  conn.send("DELETE /api/kv/k HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(conn.receive(at_once).status == 404);
  conn.send("POST /api/no/such/route HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(conn.receive(at_once).status == 404);
  // A body with Content-Length and a chunked one are read as before.
  conn.send("PUT /api/kv/k HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n42");
  CHECK(conn.receive(at_once).status == 200);
  conn.send("PUT /api/kv/c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            "\r\n2\r\n[1\r\n2\r\n,2\r\n1\r\n]\r\n0\r\n\r\n");
  CHECK(conn.receive(at_once).status == 200);
  conn.send("GET /api/kv HTTP/1.1\r\nHost: t\r\n\r\n");
  auto listing = json::parse(conn.receive(at_once).body).at("entries");
  REQUIRE(listing.size() == 2);
  CHECK(listing[0].at("value") == json::array({1, 2}));
  CHECK(listing[1].at("value") == 42);
  if (fs::exists("/usr/bin/curl")) {
    auto url = "http://127.0.0.1:" + std::to_string(a.server->port());
    auto [status, output] = run_shell("/usr/bin/curl -sS --max-time 2.5 -X POST "
                                      + url + "/api/test/stop");
    INFO(output);
    CHECK(status == 0);
    CHECK(output.find("not_running") != std::string::npos);
  } else {
    WARN("no /usr/bin/curl: the curl -X POST case is not run");
  }
}

TEST_CASE("bodies are read whatever their type, up to the true limit", "[http]") {
  api a;
  auto cli = a.connect();
  // What curl -d sends: httplib alone caps form bodies at 8 KiB.
  auto big = json{{"blob", std::string(100 * 1024, 'x')}};
  auto form = "application/x-www-form-urlencoded";
  auto put = cli.Put("/api/kv/big", big.dump(), form);
  REQUIRE(put);
  INFO(put->body);
  CHECK(put->status == 200);
  CHECK(body_of(cli.Get("/api/kv/big")).at("value") == big);
  auto started = cli.Post("/api/test/start", R"({"script": "exit_with.sh"})", form);
  REQUIRE(started);
  CHECK(started->status == 201);
  // Over http.max_body_bytes (1 MiB): a 413 that says so, with Content-Length
  // and chunked alike, and nothing stored.
  std::string over(1024 * 1024 + 1, ' ');
  auto res = cli.Put("/api/kv/over", over, form);
  require_error(res, 413, "value_too_large");
  CHECK(res->body.find("http.max_body_bytes (1048576 bytes)") != std::string::npos);
  raw_conn conn{a.server->port()};
  conn.send("PUT /api/kv/over HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
            "\r\n\r\n100001\r\n" + std::string(0x100001, ' ') + "\r\n0\r\n\r\n");
  auto chunked = conn.receive(at_once);
  CHECK(chunked.status == 413);
  CHECK(code_of(chunked) == "value_too_large");
  require_error(cli.Get("/api/kv/over"), 404, "not_found");
  if (fs::exists("/usr/bin/curl")) {
    auto url = "http://127.0.0.1:" + std::to_string(a.server->port());
    auto [status, output] = run_shell(
      "/usr/bin/curl -sS --max-time 5 -X PUT -d '{\"via\": \"curl\"}' " + url
      + "/api/kv/curl");
    INFO(output);
    CHECK(status == 0);
    CHECK(body_of(cli.Get("/api/kv/curl")).at("value").at("via") == "curl");
  }
}

TEST_CASE("PATCH honours If-Match; If-Match: * needs the key", "[http]") {
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

TEST_CASE("media types and Bearer in any case; 405 with Allow; true httplib errors",
          "[http]") {
  http_config http;
  http.token = "0123456789abcdef-secret";
  ::unsetenv("LABRT_TOKEN");
  api a{http};
  auto cli = a.connect();
  for (auto scheme : {"bearer ", "BEARER  ", "Bearer "}) {
    httplib::Headers auth{{"Authorization", scheme + http.token}};
    CHECK(cli.Get("/api/kv", auth)->status == 200);
  }
  cli.set_bearer_token_auth(http.token.c_str());
  body_of(cli.Put("/api/kv/doc", "{}", "Application/JSON"));
  auto patched = cli.Patch("/api/kv/doc", R"({"a": 1})",
                           "Application/Merge-Patch+JSON; charset=UTF-8");
  CHECK(body_of(patched).at("value") == json{{"a", 1}});
  // A known path with another method.
  auto wrong = cli.Post("/api/kv/doc", "{}", "application/json");
  require_error(wrong, 405, "method_not_allowed");
  CHECK(wrong->get_header_value("Allow") == "DELETE, GET, HEAD, OPTIONS, PATCH, PUT");
  auto get_start = cli.Get("/api/test/start");
  require_error(get_start, 405, "method_not_allowed");
  CHECK(get_start->get_header_value("Allow") == "OPTIONS, POST");
  auto options = cli.Options("/api/kv");
  REQUIRE(options);
  CHECK(options->status == 204);
  CHECK(options->get_header_value("Allow") == "GET, HEAD, OPTIONS");
  require_error(cli.Delete("/api/nothing"), 404, "not_found");
  // Failures inside httplib: a message that fits whatever the cause.
  auto raw = [&](const std::string& request) {
    raw_conn conn{a.server->port()};
    conn.send(request);
    return conn.receive(at_once);
  };
  auto garbage = raw("NOT HTTP AT ALL\r\n\r\n");
  CHECK(garbage.status == 400);
  CHECK(code_of(garbage) == "bad_request");
  CHECK(garbage.body.find("Content-Length") == std::string::npos);
  auto long_header = raw("GET /healthz HTTP/1.1\r\nX-Long: "
                         + std::string(9000, 'x') + "\r\n\r\n");
  CHECK(long_header.status == 400);
  CHECK(code_of(long_header) == "bad_request");
  auto trace = raw("TRACE /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(trace.status == 501);
  CHECK(code_of(trace) == "not_implemented");
  auto auth = "Authorization: Bearer " + http.token + "\r\n";
  auto gzip = raw("PUT /api/kv/doc HTTP/1.1\r\n" + auth
                  + "Transfer-Encoding: gzip\r\n\r\n");
  CHECK(gzip.status == 400);
  CHECK(gzip.body.find("Transfer-Encoding must be chunked") != std::string::npos);
  auto form = raw("POST /api/test/start HTTP/1.1\r\n" + auth
                  + "Content-Type: multipart/form-data; boundary=x\r\n"
                    "Content-Length: 4\r\n\r\n--x\n");
  CHECK(form.status == 415);
  // A refused request's unread body is not taken for the next request.
  auto refused = raw("PUT /api/kv/doc HTTP/1.1\r\nContent-Length: 1\r\n\r\n2");
  CHECK(refused.status == 401);
  CHECK(refused.head.find("\r\nConnection: close") != std::string::npos);
  // Nothing of it was applied.
  CHECK(body_of(cli.Get("/api/kv/doc")).at("value") == json{{"a", 1}});
}

TEST_CASE("a busy port fails at start: address in use", "[http]") {
  api a;
  http_config http;
  http.listen = "127.0.0.1:" + std::to_string(a.server->port());
  auto second = http_server::make(*a.rt, http);
  REQUIRE_FALSE(second);
  INFO(render(second.error()));
  CHECK(message_of(second.error()).find("address in use") != std::string::npos);
  // The first still serves every connection.
  auto cli = a.connect();
  for (int i = 0; i < 8; ++i)
    CHECK(body_of(cli.Get("/healthz")).at("name") == "test-lab");
}

TEST_CASE("the token minimum holds for LABRT_TOKEN too", "[http]") {
  runtime_config cfg;
  cfg.event_hub = true;
  auto rt = start_runtime(cfg);
  http_config http;
  http.listen = "127.0.0.1:0";
  ::setenv("LABRT_TOKEN", "short", 1);
  auto from_env = http_server::make(*rt, http);
  ::unsetenv("LABRT_TOKEN");
  REQUIRE_FALSE(from_env);
  CHECK(code_of(from_env.error()) == errc::invalid_argument);
  CHECK(message_of(from_env.error())
        == "LABRT_TOKEN must be at least 16 characters");
  http.token = "short";
  auto from_config = http_server::make(*rt, http);
  REQUIRE_FALSE(from_config);
  CHECK(message_of(from_config.error())
        == "http.token must be at least 16 characters");
  http.token = "0123456789abcdef";
  CHECK(http_server::make(*rt, http));
}

// -- the daemon as a process ---------------------------------------------------

namespace {

/// `labctl serve` started by the test, with its stderr read until a line.
struct daemon_proc {
  explicit daemon_proc(const fs::path& config) {
    spawn_spec spec;
    spec.argv = {LABCTL_PATH, "serve", "--config", config.string(),
                 "--listen", "127.0.0.1:0"};
    spec.inherit_env = {"PATH"};
    auto c = spawn(spec);
    if (!c)
      FAIL("spawn failed: " << render(c.error()));
    proc = std::move(*c);
  }

  ~daemon_proc() {
    if (proc.pid > 0 && !reaped) {
      ::kill(proc.pid, SIGKILL);
      ::waitpid(proc.pid, nullptr, 0);
    }
  }

  /// Reads stderr until a whole line with `text` is in; false at the
  /// deadline or EOF.
  bool wait_for(const std::string& text) {
    auto until = std::chrono::steady_clock::now() + deadline;
    auto complete = [&] {
      auto at = log.find(text);
      return at != std::string::npos && log.find('\n', at) != std::string::npos;
    };
    while (!complete()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return false;
      pollfd p{proc.err_fd.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return false;
      char buf[4096];
      auto n = ::read(proc.err_fd.get(), buf, sizeof buf);
      if (n == 0)
        return false;
      if (n > 0)
        log.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  uint16_t port() const {
    auto at = log.find("serving on http://127.0.0.1:");
    return static_cast<uint16_t>(std::stoi(log.substr(at + 28)));
  }

  /// The exit status, waiting on the pidfd up to the deadline.
  std::optional<int> wait_exit() {
    pollfd p{proc.pidfd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(
                        std::chrono::milliseconds{deadline}.count()))
        <= 0)
      return std::nullopt;
    int status = 0;
    ::waitpid(proc.pid, &status, 0);
    reaped = true;
    return status;
  }

  child proc;
  std::string log;
  bool reaped = false;
};

} // namespace

TEST_CASE("SIGTERM stops the daemon and its run cleanly", "[http]") {
  temp_dir dir{"labrt-http"};
  auto config = fs::path{dir / "lab.json"};
  std::ofstream{config} << json{
    {"name", "sigterm-lab"},
    {"services", {{{"name", "qsfp_service"}, {"match", {{"comm", "qsfp_service"}}}}}},
    {"runner", {{"roots", {scripts_dir}}, {"grace_ms", 300},
                {"stop_on_shutdown", true}}},
    {"state_dir", "state"}}.dump();
  daemon_proc d{config};
  REQUIRE(d.wait_for("serving on"));
  CHECK(fs::is_directory(dir / "state"));
  httplib::Client cli{"127.0.0.1", d.port()};
  cli.set_read_timeout(deadline);
  auto rec = body_of(post(cli, "/api/test/start", {{"script", "stubborn.sh"}}));
  REQUIRE(d.wait_for("test started"));
  CHECK(post(cli, "/api/test/start", {{"script", "stubborn.sh"}})->status
        == 409);
  REQUIRE(d.wait_for("-> 409"));
  // An open event stream must not hold the shutdown up.
  std::thread reader{[port = d.port()] {
    httplib::Client c{"127.0.0.1", port};
    c.set_read_timeout(deadline);
    c.Get("/api/events", [](const char*, size_t) { return true; });
  }};
  ::kill(d.proc.pid, SIGTERM);
  auto status = d.wait_exit();
  reader.join();
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  d.wait_for("stopped");
  INFO(d.log);
  CHECK(d.log.find("received SIGTERM") != std::string::npos);
  // A refused start is one of the notable events.
  CHECK(d.log.find("POST /api/test/start -> 409") != std::string::npos);
  CHECK(d.log.find("test ended") != std::string::npos);
  CHECK(find_by_cookie(rec.at("cookie").get<std::string>()).empty());
}

TEST_CASE("the daemon refuses a bad config with a clear error", "[http]") {
  temp_dir dir{"labrt-http"};
  auto config = fs::path{dir / "lab.json"};
  std::ofstream{config} << R"({"name": "x", "htpp": {}})";
  daemon_proc d{config};
  CHECK_FALSE(d.wait_for("serving on"));
  auto status = d.wait_exit();
  REQUIRE(status);
  CHECK(WEXITSTATUS(*status) == 2);
  INFO(d.log);
  CHECK(d.log.find("htpp") != std::string::npos);
}

TEST_CASE("sse codec: frames split anywhere, comments skipped", "[http]") {
  auto wire = ": keep-alive\n\nretry: 1000\n\n"
              + sse::format({7, "kv", R"({"key":"a"})"})
              + sse::format({0, "missed", R"({"missed":3})"});
  // Every split point yields the same two events.
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    sse::parser parser;
    auto events = parser.feed(std::string_view{wire}.substr(0, cut));
    for (auto& ev : parser.feed(std::string_view{wire}.substr(cut)))
      events.push_back(ev);
    REQUIRE(events.size() == 2);
    CHECK(events[0].id == 7);
    CHECK(events[0].kind == "kv");
    CHECK(events[0].data == R"({"key":"a"})");
    CHECK(events[1].id == 0);
    CHECK(events[1].kind == "missed");
  }
}

TEST_CASE("sse codec: an id that is not a number is no id, not a crash",
          "[http]") {
  sse::parser parser;
  auto events = parser.feed("id: x\ndata: 1\n\nid: 99999999999999999999\n"
                            "data: 2\n\nid: 18446744073709551615\ndata: 3\n\n");
  REQUIRE(events.size() == 3);
  CHECK(events[0].id == 0);
  CHECK(events[1].id == 0);
  CHECK(events[2].id == UINT64_MAX);
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
