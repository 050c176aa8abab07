// The HTTP/JSON API of a runtime: what `labctl serve` runs and what lab
// software in any language talks to. Target labrt::http (needs cpp-httplib).
#pragma once

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "labrt/config.hpp"

namespace labrt {

class runtime;

/// Serves the routes of the API over one runtime. Each worker thread uses its
/// own labrt::client, so the API adds no shared state of its own besides
/// atomic request counters.
class http_server {
public:
  /// Checks `cfg` (a non-loopback address needs a token) and binds the
  /// listening socket, so that the port is known before `run`. With a `log`,
  /// every 5xx and every refused POST under /api/test gets a line there.
  static caf::expected<std::unique_ptr<http_server>>
  make(runtime& rt, http_config cfg, std::string name = "labrt",
       std::ostream* log = nullptr);

  ~http_server();

  /// The bound port (useful with port 0).
  uint16_t port() const noexcept;

  /// The base URL, e.g. "http://127.0.0.1:8080".
  std::string url() const;

  /// Serves until `stop`; returns once every worker thread has ended (open
  /// event streams close within half a second).
  void run();

  /// Makes `run` return. Safe from any thread, and more than once.
  void stop();

  struct impl;

private:
  explicit http_server(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

/// How the caller of serve() asks it to shut down: request() from any
/// thread (a signal-handling thread, a test), before or while it serves.
class serve_stop {
public:
  void request() noexcept {
    requested_.store(true);
  }
  bool requested() const noexcept {
    return requested_.load();
  }

private:
  std::atomic<bool> requested_{false};
};

/// The daemon, as `labctl serve` runs it: a runtime with the config's
/// managers, monitor and runner, the HTTP API on `cfg.http.listen`, and one
/// log line per notable event (service up/down, test start/end, failures) on
/// `log`. Serves until `stop` is requested, then shuts down cleanly (the
/// current run is stopped or left alone per `runner.stop_on_shutdown`).
/// Signals are the caller's: a process-wide mask belongs in its main.
/// The daemon holds `cfg.state_dir` (created 0700) with a lock for its life.
/// Returns the process exit code: 0 after a stop, 2 if the server cannot
/// start as configured (its address or its state_dir is in use by another
/// daemon), 1 if the runtime or the state_dir cannot.
int serve(daemon_config cfg, std::ostream& log, const serve_stop& stop);

/// Whether `host` is a loopback address ("127.x.y.z", "::1", "localhost").
bool is_loopback(const std::string& host);

} // namespace labrt
