// The fixture of the HTTP tests: a runtime with its API on an ephemeral port
// (test_http, test_labctl).
#pragma once

#include <filesystem>
#include <string>
#include <thread>

#include <httplib.h>

#include "labrt/http.hpp"
#include "proc_support.hpp"
#include "support.hpp"

namespace labrt::test {

/// A runtime and its API on an ephemeral port, served by a thread.
struct api {
  explicit api(http_config http = {}) {
    runtime_config cfg;
    cfg.runner.roots = {scripts_dir};
    cfg.runner.logs_dir = dir / "logs";
    cfg.runner.grace_ms = 500;
    cfg.runner.inherit_env = {"PATH"};
    cfg.event_hub = true;
    rt = start_runtime(cfg);
    http.listen = "127.0.0.1:0";
    auto made = http_server::make(*rt, http, "test-lab");
    if (!made)
      FAIL("http_server::make failed: " << render(made.error()));
    server = std::move(*made);
    thread = std::thread{[this] { server->run(); }};
  }

  ~api() {
    server->stop();
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

} // namespace labrt::test
