// The per-run shim (labrt-shim) and the line protocol it speaks with the
// daemon over its Unix socket. Plain C++, no actors.
//
// One JSON object per line. Shim to daemon: {"started": run_started},
// {"batch": {"lines": [[stream, n, text]...], "dropped": n}}, {"ended":
// run_ended} or {"failed": "why"}; on a new connection, {"started": ...}
// again if the script runs. Daemon to shim: {"credit": n} per batch it took,
// {"stop": "by", "grace_ms": n}.
#pragma once

#include <string>
#include <vector>

#include "labrt/json.hpp"
#include "labrt/run_types.hpp"
#include "src/plain_error.hpp"
#include "src/process.hpp"

namespace labrt {

/// Sends one line (blocking up to the socket's send timeout; no SIGPIPE).
bool send_line(int fd, const json& msg);

/// Splits what a socket delivers into JSON lines.
class line_reader {
public:
  /// Reads what is there (non-blocking). False at EOF or on an error.
  bool read_some(int fd);

  /// The next whole line parsed (a discarded value if it is not JSON), or
  /// false if none is whole yet.
  bool next(json& out);

private:
  std::string buf_;
};

json batch_to_json(const std::vector<output_line>& lines, uint64_t dropped);
output_batch batch_from_json(const std::string& run_id, const json& j);

/// A listening socket at `path` (replacing a stale one), mode 0600.
plain_expected<unique_fd> listen_unix(const std::string& path);

/// A connection to the socket at `path` (blocking, 5 s send timeout).
plain_expected<unique_fd> connect_unix(const std::string& path);

/// Whether the peer of `fd` runs as our uid (SO_PEERCRED).
bool peer_is_our_uid(int fd);

/// A spare shim's wait: the run directory the daemon sends on `fd` as
/// {"run": dir}, or "" once the daemon closes it (a spare never used).
/// Reads that one line and nothing after it.
std::string await_run_dir(int fd);

/// The shim's main: runs the run of `dir`'s spec.json and serves its socket;
/// `conn` (or -1) is the daemon's first connection. Returns the exit code.
int shim_main(const std::string& dir, int conn);

} // namespace labrt
