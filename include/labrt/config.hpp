// Settings of an embedded runtime.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "labrt/json.hpp"
#include "labrt/monitor_types.hpp"

namespace labrt {

/// Bounds on what a caller may store.
struct limits {
  size_t max_key_bytes = 256;          ///< Keys and field names.
  size_t max_value_bytes = 1024 * 1024; ///< Serialized size of one value.
};

/// Longest grace period or timeout a config may give: 30 days. Beyond it a
/// number is a typo, and near INT64_MAX deadlines overflow.
inline constexpr int64_t max_duration_ms = int64_t{30} * 24 * 3600 * 1000;

/// The test runner. The `runner` object of a config file has the keys
/// roots, logs_dir, grace_ms, timeout_ms, log_max_bytes, stop_on_shutdown,
/// shim (see load_runner_config).
struct runner_config {
  /// Spawn the runner at all. Its first run makes the process a child
  /// subreaper (orphaned descendants re-parent to it), not its start.
  bool enabled = true;
  /// Directories scripts must resolve into. Empty means any existing file,
  /// with the rights of the embedding process: right for a local tool run by
  /// its user (`labctl run`), wrong for anything that takes requests from
  /// others. The daemon's config (parse_config) therefore requires roots;
  /// `["/"]` is how it says "anywhere".
  std::vector<std::string> roots;
  /// Where `<run_id>.log` files go (created if missing); empty = no logs
  /// unless a run names its own log file.
  std::string logs_dir;
  /// SIGTERM -> SIGKILL delay when stopping a run's tree.
  int64_t grace_ms = 5000;
  /// Default per-run timeout; 0 = none.
  int64_t timeout_ms = 0;
  /// Cap of one log file: past it the head and tail halves are kept.
  uint64_t log_max_bytes = 64ull * 1024 * 1024;
  /// Variables a script inherits from the runtime's environment.
  std::vector<std::string> inherit_env = {"PATH", "HOME", "LANG", "TERM",
                                          "USER"};
  /// Finished run records kept for queries.
  size_t history_capacity = 200;
  /// Runs that may wait in the queue.
  size_t queue_capacity = 100;
  /// On runtime shutdown: stop the current run (true) or leave it running.
  bool stop_on_shutdown = true;
  /// Where runs keep their directories (`<state_dir>/runs` in the daemon).
  /// If set, each run is started through a labrt-shim that outlives this
  /// process, and the runner re-adopts what it finds there at start; empty =
  /// runs are children of this process and end with it.
  std::string runs_dir;
  /// The labrt-shim executable; empty = this build's, else the installed one.
  std::string shim;
};

/// Reads a JSON config file: a clear error if it is missing, not JSON (with
/// line and column) or not an object.
caf::expected<json> read_config_file(const std::string& path);

/// Reads the `runner` object of a JSON config file. Relative paths in it are
/// relative to the file's directory. Unknown keys, wrong types and numbers
/// out of range (durations: integers from 0 to max_duration_ms) are errors
/// naming the field; a file without `runner` gives the defaults (no roots).
/// Keys: roots, logs_dir, grace_ms, timeout_ms, log_max_bytes,
/// stop_on_shutdown.
caf::expected<runner_config> load_runner_config(const std::string& path);

/// A daemon's rule for the runner's roots (parse_config and serve apply it):
/// a daemon runs what others request as its own user, so it needs roots,
/// each an existing directory. A disabled runner needs none.
caf::error check_daemon_roots(const runner_config& cfg);

/// The same for an already parsed `runner` object.
caf::expected<runner_config> parse_runner_config(const json& runner,
                                                 const std::string& base_dir);

/// The service monitor: the `services` array and the `monitor`
/// object of a config file, e.g. `"services": [{"name": "qsfp_service",
/// "match": {"comm": "qsfp_service"}}], "monitor": {"interval_ms": 1000}`.
struct monitor_config {
  /// Watched services; more can be added at run time.
  std::vector<service_rule> services;
  /// Period of the pass over /proc (exits are seen at once through pidfds).
  int64_t interval_ms = 1000;
};

/// Reads the `services` and `monitor` sections of a JSON config file (other
/// sections are left alone). Unknown keys, wrong types, bad rules (empty,
/// invalid regex, unknown kind) and duplicate names are errors naming the
/// field; a file without them gives no services and the defaults.
caf::expected<monitor_config> load_monitor_config(const std::string& path);

/// The same for an already parsed config document (a JSON object).
caf::expected<monitor_config> parse_monitor_config(const json& doc);

/// How an idle CAF worker waits for its next message (CAF's
/// `work-stealing.*` settings, read once when the runtime starts). A worker
/// that runs out of work first spins, then polls with short sleeps, then
/// sleeps on a condition variable that a new message wakes at once. A
/// message from a non-actor thread (a labrt::client call) that finds its
/// worker in a short sleep waits out the rest of it, so sleeping polls make
/// single calls slower, while spinning takes a core from everything else.
/// bench/README.md has the measurements behind the defaults.
struct scheduler_config {
  /// Polls without sleeping before the sleeping polls (CAF's default).
  size_t spin_polls = 100;
  /// Polls with `poll_sleep` between them before the deep sleep.
  size_t sleeping_polls = 0;
  std::chrono::microseconds poll_sleep{50};
  /// The deep sleep's timeout, after which a worker looks for work to steal.
  std::chrono::milliseconds deep_sleep{10};
};

/// How much of the run history the database keeps (config section
/// `history`): what is older or beyond goes, with its log file.
struct history_retention {
  /// The newest ended runs kept; 0 = every one.
  uint64_t max_runs = 10000;
  /// Days an ended run, or a service transition, is kept; 0 = for ever.
  uint64_t max_days = 0;
};

/// One agent an orchestrator follows.
struct cluster_peer {
  std::string name;    ///< How the orchestrator names the host, e.g. "dut1".
  std::string host;    ///< Where its agent listens.
  uint16_t port = 0;
};

/// Mutual TLS between agents and orchestrators (`cluster.tls`): PEM files,
/// checked at start. Agents and orchestrators hold certificates of separate
/// CAs and each trusts only the other's, since CAF checks the chain alone:
/// an agent's certificate then cannot drive another agent.
struct cluster_tls {
  std::string ca;   ///< The CA (or CAs) whose certificates the peer must show.
  std::string cert; ///< This runtime's certificate chain.
  std::string key;  ///< Its private key: unencrypted, mode 0600.

  bool enabled() const noexcept {
    return !ca.empty() || !cert.empty() || !key.empty();
  }
};

/// Several hosts as one lab (config section `cluster`, docs/cluster.md). A
/// runtime is an agent when it publishes, an orchestrator when it has peers,
/// or both (without TLS). An agent takes no command from a peer that has not
/// shown the shared secret, or, with TLS, a certificate of the trusted CA.
struct cluster_config {
  /// Where this runtime's agent listens (`cluster.publish`, HOST:PORT);
  /// empty host: no agent. Other than loopback only with TLS.
  std::string publish_host;
  uint16_t publish_port = 0;
  /// The agents this runtime follows and drives.
  std::vector<cluster_peer> peers;
  /// The shared secret, read from `cluster.secret_file` (mode 0600, at
  /// least min_secret_bytes). Required without TLS; with it, checked too if
  /// set.
  std::string secret;
  cluster_tls tls;
  static constexpr size_t min_secret_bytes = 16;
  /// Deadline of every request to an agent; a dead peer fails its requests
  /// at once. A start (the agent spawns) and a stop (it waits out its grace)
  /// get their own.
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds start_timeout{30000};
  std::chrono::milliseconds stop_timeout{60000};
  /// Longest wait between reconnection attempts to a peer that is down.
  std::chrono::milliseconds max_backoff{5000};

  bool enabled() const noexcept {
    return !publish_host.empty() || !peers.empty();
  }
};

/// Everything `runtime` needs to start.
struct runtime_config {
  /// CAF scheduler threads; 0 means one on up to two cores, else one per
  /// core (see scheduler_threads).
  size_t max_threads = 0;
  scheduler_config scheduler;
  /// Changes each manager keeps for history queries and late subscribers.
  size_t history_capacity = 1024;
  /// Spawn the event hub: every change and run output batch as one numbered
  /// stream (event_stream, the HTTP API's /api/events, the dashboard). Off
  /// by default, since it serialises every change once more; the daemon
  /// turns it on.
  bool event_hub = false;
  /// Events (changes and output batches) the event hub keeps for readers
  /// that resume with the last id they saw.
  size_t event_capacity = 4096;
  /// ... and at most this many bytes of them (run output can be large).
  size_t event_max_bytes = 8 * 1024 * 1024;
  limits bounds;
  /// Extra service_status entries on top of the built-in defaults,
  /// e.g. {"my_daemon": false, "my_daemon_cmd": null}.
  json service_defaults = json::object();
  runner_config runner;
  monitor_config monitor;
  /// An existing directory for `labrt.db`: the kv store is loaded from it
  /// at start and every write is committed there before it is answered.
  /// Empty: everything lives in memory and ends with the runtime.
  std::string state_dir;
  /// Pruned at start and after every run's end; only with a state_dir.
  history_retention history;
  cluster_config cluster;
};

/// HOST:PORT, an IPv6 host in brackets, a port from 0 to 65535.
struct listen_address {
  std::string host; ///< Without the brackets.
  uint16_t port = 0;
};

/// Splits and checks `text`; the error names http.listen. The host is not
/// looked up here: binding says so at start if it does not resolve.
caf::expected<listen_address> parse_listen(const std::string& text);

/// The HTTP/JSON API of the daemon (section `http`).
struct http_config {
  /// HOST:PORT; port 0 picks a free one. Non-loopback needs a token.
  std::string listen = "127.0.0.1:8080";
  /// Bearer token every route but /healthz requires; empty = no auth. The
  /// environment variable LABRT_TOKEN, when set, takes precedence. Either
  /// must have at least `min_token_bytes`.
  std::string token;
  static constexpr size_t min_token_bytes = 16;
  /// Event streams and log follows open at once; more get 503. Each holds
  /// a worker thread for its whole life.
  size_t max_streams = 32;
  /// Worker threads for plain requests, on top of max_streams. A keep-alive
  /// connection holds one while it is open.
  size_t threads = 96;
  /// Largest request body accepted (413 above).
  size_t max_body_bytes = 1024 * 1024;
};

/// A whole config file, as `labctl serve --config FILE` reads it:
/// {"name", "services", "monitor", "runner", "state_dir", "http",
///  "service_defaults"}.
struct daemon_config {
  /// Shown by the dashboard and /healthz.
  std::string name = "labrt";
  /// Created at start; runs log to `<state_dir>/logs` unless the runner
  /// names a logs_dir. Empty: no state on disk.
  std::string state_dir;
  runtime_config runtime;
  http_config http;
};

/// Reads and validates a whole config file. Unknown keys anywhere are errors
/// naming the field; relative paths are relative to the file's directory.
/// Checked at start, not when first used: `runner.roots` is required and
/// each root must be an existing directory; `http.listen` must be HOST:PORT
/// (whether the host resolves, the server says when it binds);
/// `http.threads` and `http.max_streams` are 1..1024.
/// `overrides` (e.g. a --listen from the command line, as
/// {"http": {"listen": ...}}) is merged into the file's document (RFC 7386)
/// before it is checked, so it is held to the same rules.
caf::expected<daemon_config> load_config(const std::string& path,
                                         const json& overrides = {});

/// The same for a parsed document whose relative paths start at `base_dir`.
caf::expected<daemon_config> parse_config(const json& doc,
                                          const std::string& base_dir);

/// The CAF scheduler threads a runtime with `cfg` starts: `max_threads`, or
/// for 0 one thread on machines with up to two cores (measured faster there on
/// every kv path: the other core serves the callers) and one per core above.
size_t scheduler_threads(const runtime_config& cfg);

} // namespace labrt
