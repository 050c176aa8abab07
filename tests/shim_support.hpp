// A real `labctl serve` with a state_dir, as a child process that a test
// kills with SIGKILL and starts again (test_shim, test_shim_queue).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "http_support.hpp"
#include "labctl_support.hpp"

namespace labrt::test {

using clock_type = std::chrono::steady_clock;

/// `labctl serve` as a process: started, its stderr read up to what a test
/// waits for, killed with SIGKILL at scope exit if still alive.
struct daemon_proc {
  child c;
  std::string err;
  uint16_t port = 0;

  explicit daemon_proc(const std::string& config) {
    spawn_spec spec;
    spec.argv = {LABCTL_PATH, "serve", "--config", config};
    spec.inherit_env = {"PATH"};
    auto made = spawn(spec);
    REQUIRE(made);
    c = std::move(*made);
    if (!wait_for("serving on http://127.0.0.1:") || !wait_for(")\n"))
      FAIL("labctl serve did not start: " << err);
    auto at = err.find("serving on http://127.0.0.1:");
    port = static_cast<uint16_t>(std::stoi(err.substr(at + 28)));
  }

  ~daemon_proc() {
    if (c.pid > 0)
      kill9();
  }

  /// Reads stderr until it holds `text` (true) or the deadline passed.
  bool wait_for(const std::string& text) {
    auto until = clock_type::now() + deadline;
    while (!has(err, text)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    until - clock_type::now()).count();
      pollfd pfd{c.err_fd.get(), POLLIN, 0};
      if (left <= 0 || ::poll(&pfd, 1, static_cast<int>(left)) <= 0)
        return false;
      char buf[4096];
      auto n = ::read(c.err_fd.get(), buf, sizeof buf);
      if (n == 0)
        return has(err, text);
      if (n > 0)
        err.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  void kill9() {
    send_signal(c.pidfd.get(), SIGKILL);
    siginfo_t info;
    REQUIRE(::waitid(P_PIDFD, static_cast<id_t>(c.pidfd.get()), &info, WEXITED) == 0);
    c.pid = 0;
  }

  httplib::Client client() const {
    httplib::Client cli{"127.0.0.1", port};
    cli.set_read_timeout(deadline);
    cli.set_connection_timeout(deadline);
    return cli;
  }

  json get(const std::string& path) {
    auto cli = client();
    auto res = cli.Get(path.c_str());
    REQUIRE(res);
    return json::parse(res->body);
  }

  /// Starts `script` with `args`: the run's record (201 required).
  json start(const std::string& script, const std::vector<std::string>& args) {
    auto cli = client();
    auto res = cli.Post("/api/test/start",
                        json{{"script", script}, {"args", args}}.dump(),
                        "application/json");
    REQUIRE(res);
    INFO(res->body);
    REQUIRE(res->status == 201);
    return json::parse(res->body);
  }

  /// Follows the run's log until it holds `text`.
  void follow_until(const std::string& run, const std::string& text) {
    auto cli = client();
    std::string log;
    cli.Get(("/api/test/logs?follow=1&run=" + run).c_str(),
            [&](const char* data, size_t n) {
              log.append(data, n);
              return !has(log, text);
            });
    INFO(log.substr(0, 2000));
    REQUIRE(has(log, text));
  }

  /// Waits until no test runs (the slot is free).
  void wait_idle() {
    auto state = get("/api/test/status/idle?wait_ms=10000");
    INFO(state.dump());
    REQUIRE(state.value("running", true) == false);
  }
};

inline std::string write_config(const temp_dir& dir, bool stop_on_shutdown = true) {
  auto path = dir / "lab.json";
  std::ofstream{path} << json{
    {"name", "shim-lab"},
    {"runner", {{"roots", {scripts_dir}}, {"grace_ms", 300},
                {"logs_dir", dir / "logs"},
                {"stop_on_shutdown", stop_on_shutdown}}},
    {"http", {{"listen", "127.0.0.1:0"}}},
    {"state_dir", dir / "state"}}.dump();
  return path;
}

/// A state_dir and a config of a daemon that runs the test scripts.
struct shim_lab {
  temp_dir dir{"labrt-shim"};
  std::string config = write_config(dir);
};


} // namespace labrt::test
