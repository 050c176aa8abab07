// The fixture of the HTTP tests: a runtime with its API on an ephemeral port
// (test_http, test_labctl), and what test_http's files share: replies as
// JSON, the event stream, a shell command's output.
#pragma once

#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

#include "labrt/http.hpp"
#include "labrt/sse.hpp"
#include "proc_support.hpp"
#include "support.hpp"

namespace labrt::test {

/// A runtime and its API on an ephemeral port, served by a thread.
struct api {
  /// With `state_dir`, a durable runtime on it (the directory must exist).
  explicit api(http_config http = {}, const std::string& state_dir = {}) {
    runtime_config cfg;
    cfg.state_dir = state_dir;
    cfg.runner.roots = {scripts_dir};
    // As the daemon does: the logs of a durable runtime outlive this api.
    cfg.runner.logs_dir = state_dir.empty() ? dir / "logs" : state_dir + "/logs";
    cfg.runner.grace_ms = 500;
    cfg.runner.inherit_env = {"PATH"};
    cfg.event_hub = true;
    rt = start_runtime(cfg);
    if (http.listen == http_config{}.listen)
      http.listen = "127.0.0.1:0"; // Unless a test needs a port again.
    auto made = http_server::make(*rt, http, "test-lab");
    if (!made)
      FAIL("http_server::make failed: " << render(made.error()));
    server = std::move(*made);
    thread = std::thread{[this] { server->run(); }};
  }

  ~api() {
    server->stop();
    if (thread.joinable())
      thread.join();
    server.reset();
    rt.reset();
  }

  httplib::Client connect() const {
    httplib::Client cli{"127.0.0.1", server->port()};
    cli.set_read_timeout(deadline);
    cli.set_connection_timeout(deadline);
    return cli;
  }

  temp_dir dir{"labrt-http"};
  std::unique_ptr<runtime> rt;
  std::unique_ptr<http_server> server;
  std::thread thread;
};

inline json body_of(const httplib::Result& res) {
  REQUIRE(res);
  INFO(res->body);
  return json::parse(res->body);
}

/// Replies with `status` and a JSON error body carrying `code`.
inline void require_error(const httplib::Result& res, int status,
                          const std::string& code) {
  REQUIRE(res);
  INFO(res->body);
  CHECK(res->status == status);
  auto body = json::parse(res->body);
  CHECK(body.at("code") == code);
  CHECK(body.at("error").is_string());
}

inline httplib::Result post(httplib::Client& cli, const std::string& path,
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
inline std::vector<sse_event>
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

/// Runs `command` with /bin/sh; its exit status and output.
inline std::pair<int, std::string> run_shell(const std::string& command) {
  auto* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
    output.append(buf, n);
  auto status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

} // namespace labrt::test
