// The HTTP/JSON API over real sockets on 127.0.0.1: the server itself (routes,
// auth, listening, metrics) and the daemon (`labctl serve`) as a real process.
// The other resources are in test_http_*.cpp, one executable.
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <httplib.h>

#include "http_support.hpp"
#include "labrt/http.hpp"
#include "src/proc_tree.hpp"
#include "src/process.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;

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
  body_of(cli.Put("/api/kv/k", "1", "application/json"));
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
  // The event hub holds the kv change: what a soak judges heap net of.
  CHECK(text.find("\nlabrt_events_held ") != std::string::npos);
  CHECK(text.find("\nlabrt_events_held 0\n") == std::string::npos);
  CHECK(text.find("\nlabrt_events_held_bytes ") != std::string::npos);
  // The heap in use: a byte count (0 under ASan, whose allocator malloc's
  // own statistics do not see).
  auto at = text.find("\nlabrt_process_heap_in_use_bytes ");
  REQUIRE(at != std::string::npos);
  CHECK(std::isdigit(static_cast<unsigned char>(text.at(at + 33))));
  CHECK(text.find("\nlabrt_process_heap_free_bytes ") != std::string::npos);
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

TEST_CASE("the API and its runtime may be torn down on another thread",
  "[http]") {
  // As the Python package may: its runtime goes on whichever thread drops
  // the last reference.
  auto a = std::make_unique<api>();
  {
    auto cli = a->connect();
    auto put = cli.Put("/api/kv/k", "1", "application/json");
    REQUIRE(put);
    CHECK(put->status == 200);
    CHECK(body_of(cli.Get("/api/services")).at("services").is_array());
  }
  CHECK(destroyed_elsewhere(std::move(a)));
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
