// labctl serve and labctl run as processes, with real signals: config
// refusals, SIGHUP stopping a run's tree, a taken port (part of test_labctl).
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "http_support.hpp"
#include "labctl_support.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

/// A daemon config in `dir` that runs the test scripts.
std::string write_daemon_config(const temp_dir& dir, const std::string& name,
                                const std::string& state_dir = {}) {
  auto path = dir / "lab.json";
  json cfg{{"name", name},
           {"runner", {{"roots", {scripts_dir}}, {"grace_ms", 300},
                       {"logs_dir", dir / "logs"}}},
           {"http", {{"listen", "127.0.0.1:0"}}}};
  if (!state_dir.empty())
    cfg["state_dir"] = state_dir;
  std::ofstream{path} << cfg.dump();
  return path;
}

/// The port of "serving on http://127.0.0.1:PORT", once that line is whole.
uint16_t serving_port(const std::string& log) {
  auto at = log.find("serving on http://127.0.0.1:");
  if (at == std::string::npos || log.find('\n', at) == std::string::npos)
    return 0;
  return static_cast<uint16_t>(std::stoi(log.substr(at + 28)));
}

/// Kills a labctl that a failed check left running.
struct reaper {
  pid_t pid = 0;
  ~reaper() {
    if (pid > 0 && ::kill(pid, SIGKILL) == 0)
      ::waitpid(pid, nullptr, 0);
  }
};

} // namespace

TEST_CASE("labctl serve refuses a config without roots and a bad --listen",
          "[labctl]") {
  temp_dir dir{"labrt-labctl"};
  std::ofstream{dir / "empty.json"} << "{}";
  auto none = run_labctl({"serve", "--config", dir / "empty.json"});
  CHECK(none.code == 2);
  CHECK(has(none.err, "runner.roots is required"));
  auto bad = run_labctl({"serve", "--config", write_daemon_config(dir, "x"), "--listen",
                     "127.0.0.1:99999"});
  CHECK(bad.code == 2);
  CHECK(has(bad.err, "http.listen"));
  // .invalid never resolves (RFC 6761): said at start, by the bind. Not a
  // loopback name, so it needs a token first.
  std::ofstream{dir / "remote.json"}
    << json{{"runner", {{"roots", {scripts_dir}}}},
            {"http", {{"listen", "lab-a.invalid:8080"},
                      {"token", "a-token-of-16-chars"}}}}
         .dump();
  auto host = run_labctl({"serve", "--config", dir / "remote.json"});
  CHECK(host.code == 2);
  CHECK(has(host.err, "cannot listen on lab-a.invalid:8080: "));
}

TEST_CASE("serve refuses a daemon_config built without roots", "[labctl]") {
  daemon_config cfg;
  cfg.http.listen = "127.0.0.1:0";
  std::ostringstream log;
  serve_stop stop;
  CHECK(serve(cfg, log, stop) == 2);
  CHECK(has(log.str(), "runner.roots is required"));
}

TEST_CASE("SIGHUP stops the daemon and its run's tree", "[labctl]") {
  temp_dir dir{"labrt-labctl"};
  std::string cookie;
  bool hung_up = false;
  reaper guard;
  auto r = run_labctl(
    {"serve", "--config", write_daemon_config(dir, "hup-lab")},
    [&](pid_t pid, const labctl_result& out) {
      guard.pid = pid;
      if (!hung_up && serving_port(out.err) != 0) {
        httplib::Client c{"127.0.0.1", serving_port(out.err)};
        c.set_read_timeout(deadline);
        auto res = c.Post("/api/test/start", R"({"script": "stubborn.sh"})",
                          "application/json");
        REQUIRE(res);
        REQUIRE(res->status == 201);
        cookie = json::parse(res->body).at("cookie").get<std::string>();
        // SIGHUP once the script ignores SIGTERM: it says "ready" after.
        auto run = json::parse(res->body).at("run_id").get<std::string>();
        std::string log;
        auto follow = c.Get(("/api/test/logs?follow=1&run=" + run).c_str(),
                            [&](const char* data, size_t n) {
                              log.append(data, n);
                              return !has(log, "ready\n");
                            });
        INFO(log << (follow ? "" : httplib::to_string(follow.error())));
        REQUIRE(has(log, "ready\n"));
        hung_up = true;
        ::kill(pid, SIGHUP);
      }
    },
    deadline);
  guard.pid = 0;
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(has(r.err, "received SIGHUP, shutting down"));
  // stubborn.sh ignores SIGTERM: the grace period ends in SIGKILL.
  CHECK(has(r.err, " test ended: stubborn.sh (stopped by SIGKILL (shutdown), "));
  CHECK_FALSE(has(r.err, "exit code ?"));
  REQUIRE_FALSE(cookie.empty());
  CHECK(find_by_cookie(cookie).empty());
}

TEST_CASE("SIGHUP stops labctl run's tree, exit 129", "[labctl]") {
  bool sent = false;
  auto r = run_labctl(
    {"run", "--json", "--grace", "0.3", scripts_dir + "/stubborn.sh"},
    [&](pid_t pid, const labctl_result& out) {
      if (!sent && has(out.out, "ready\n")) {
        sent = true;
        ::kill(pid, SIGHUP);
      }
    },
    deadline);
  CHECK(r.code == 128 + SIGHUP);
  auto rec = last_json_line(r.out);
  REQUIRE(rec.is_object());
  CHECK(rec.at("stopped_by") == "SIGHUP");
  CHECK(find_by_cookie(rec.at("cookie").get<std::string>()).empty());
}

namespace {

/// What a second `labctl serve --config config <args(port of the first)>`
/// says while the first serves with `config`. A second daemon that does
/// start is stopped at once, so the checks fail rather than the deadline.
labctl_result second_daemon(
  const std::string& config,
  const std::function<std::vector<std::string>(uint16_t)>& args) {
  std::unique_ptr<labctl_result> second;
  reaper guard;
  auto first = run_labctl(
    {"serve", "--config", config},
    [&](pid_t pid, const labctl_result& out) {
      guard.pid = pid;
      auto port = serving_port(out.err);
      if (second || port == 0)
        return;
      std::vector<std::string> argv{"serve", "--config", config};
      for (auto& arg : args(port))
        argv.push_back(arg);
      second = std::make_unique<labctl_result>(run_labctl(
        argv,
        [](pid_t other, const labctl_result& o) {
          if (serving_port(o.err) != 0)
            ::kill(other, SIGTERM);
        },
        deadline));
      ::kill(pid, SIGTERM);
    },
    deadline);
  guard.pid = 0;
  CHECK(first.code == 0);
  REQUIRE(second);
  return *second;
}

} // namespace

TEST_CASE("a second labctl serve on a taken port exits 2", "[labctl]") {
  // Passes once http_server::make refuses a port another server holds
  // (httplib binds with SO_REUSEPORT, which lets a second server in).
  temp_dir dir{"labrt-labctl"};
  auto second = second_daemon(write_daemon_config(dir, "first"), [](uint16_t port) {
    return std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(port)};
  });
  INFO(second.err);
  CHECK(second.code == 2);
  CHECK(has(second.err, "address in use"));
  // Without a state_dir the daemon says what a restart forgets.
  CHECK(has(second.err, "no state_dir in the config"));
}

TEST_CASE("a second labctl serve on a state_dir in use exits 2", "[labctl]") {
  temp_dir dir{"labrt-labctl"};
  auto config = write_daemon_config(dir, "first", dir / "state");
  auto second = second_daemon(config, [](uint16_t) {
    return std::vector<std::string>{}; // Another free port, the same state.
  });
  INFO(second.err);
  CHECK(second.code == 2);
  CHECK(has(second.err, "state_dir " + (dir / "state")
                          + " is in use by another daemon (pid "));
  CHECK_FALSE(has(second.err, "no state_dir"));
  // Private, as what runs leave there will be.
  struct stat st{};
  REQUIRE(::stat((dir / "state").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  // The lock ends with its daemon: the next one gets it, and holds it.
  auto third = second_daemon(config, [](uint16_t) {
    return std::vector<std::string>{};
  });
  CHECK(third.code == 2);
}

TEST_CASE("labctl serve on a corrupt database exits 2 naming the file",
          "[labctl]") {
  temp_dir dir{"labrt-labctl"};
  std::filesystem::create_directory(dir / "state");
  std::ofstream{dir / "state/labrt.db"} << std::string(8192, '#');
  auto r = run_labctl(
    {"serve", "--config", write_daemon_config(dir, "db", dir / "state")});
  INFO(r.err);
  CHECK(r.code == 2);
  CHECK(has(r.err, dir / "state/labrt.db"));
  CHECK(has(r.err, "file is not a database"));
  CHECK_FALSE(has(r.err, "serving on"));
}
