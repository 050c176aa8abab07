// Messages of the test runner: what to run, what a run was, its output.
// Each with inspect() for CAF and to_json/from_json for the HTTP API and CLI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include "labrt/json.hpp"

namespace labrt {

/// A request to run one script.
struct run_spec {
  /// Relative to one of the runner's roots, or absolute inside one (any
  /// existing path when the runner has no roots).
  std::string script;
  std::vector<std::string> args;
  /// Working directory of the script; empty = the runtime's.
  std::string cwd;
  /// Variables set for the script on top of the runner's allowlist.
  std::map<std::string, std::string> env;
  /// Runs the script through /bin/sh instead of exec'ing it directly.
  bool use_shell = false;
  /// Recorded in test_execution (optional).
  std::string bin;
  std::string topology;
  std::string topology_file;
  /// Milliseconds before the run is stopped: -1 = the runner's default, 0 =
  /// none.
  int64_t timeout_ms = -1;
  /// Log file; empty = `<logs_dir>/<run_id>.log` (none without a logs_dir).
  std::string log;
};

/// Bounds of a run spec. A run's record keeps its args in the history and
/// its queue entry keeps args and env until it starts, so a request must not
/// be able to pin much memory; a spec beyond them is refused, nothing kept.
namespace run_limits {
/// Arguments per run, and their bytes all together.
inline constexpr size_t max_args = 4096;
inline constexpr size_t max_args_bytes = 256 * 1024;
/// Environment variables per run, and their names and values together.
inline constexpr size_t max_env = 1024;
inline constexpr size_t max_env_bytes = 256 * 1024;
/// script, cwd, bin, topology, topology_file and log, each.
inline constexpr size_t max_text_bytes = 4096;
/// 30 days: larger values are typos or overflow to a tiny timeout.
inline constexpr int64_t max_timeout_ms = 30LL * 24 * 3600 * 1000;
/// What the runner's history of finished runs and its queue may each hold,
/// by run_footprint (besides their run counts in runner_config).
inline constexpr size_t max_history_bytes = 16 * 1024 * 1024;
inline constexpr size_t max_queue_bytes = 16 * 1024 * 1024;
} // namespace run_limits

/// Why `spec` cannot run (errc::invalid_argument, a message naming the field
/// and the limit), or no error: timeout_ms from -1 to max_timeout_ms, the
/// run_limits, no NUL byte in any string, environment names non-empty and
/// without '='.
caf::error check_run_spec(const run_spec& spec);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_spec& x) {
  return f(caf::meta::type_name("run_spec"), x.script, x.args, x.cwd, x.env,
    x.use_shell, x.bin, x.topology, x.topology_file, x.timeout_ms, x.log);
}

void to_json(json& j, const run_spec& x);
/// Strict: unknown keys, wrong types, a timeout_ms that is not an integer
/// from -1 to run_limits::max_timeout_ms and more args or env entries than
/// run_limits allows (counted before they are copied) throw json::exception
/// naming the field. The rest of check_run_spec is the runner's to apply.
void from_json(const json& j, run_spec& x);

/// Bytes `spec` holds (strings and containers, roughly), for byte bounds.
size_t run_footprint(const run_spec& spec);

/// Where a run is in its life.
enum class run_state : uint8_t {
  queued,    ///< Waiting in the FIFO queue.
  starting,  ///< Being spawned.
  running,   ///< The script runs.
  stopping,  ///< TERM / grace / KILL of its tree in progress.
  finished,  ///< Ended; nothing of it is left.
  failed,    ///< Never ran: the script could not be started.
  cancelled, ///< Removed from the queue before it started.
  lost,      ///< Its watcher vanished without telling how it ended.
};

const char* to_string(run_state x);

/// The state `to_string` names; queued for any other text.
run_state run_state_of(std::string_view text);

/// Finished, failed, cancelled or lost: nothing of the run is left to watch.
bool has_ended(run_state x);

/// How a run ended, as its watcher (or shim) saw it: one struct for the
/// runner's record and for the message that reports the end.
struct run_end {
  int32_t exit_code = -1; ///< -1 unless it exited normally.
  int32_t signal = 0;     ///< Terminating signal, 0 if none.
  std::string signal_name;
  bool core_dumped = false;
  bool timed_out = false;
  /// Who stopped it: "" (it ended by itself), "request", "timeout",
  /// "shutdown", or what the stop request named (e.g. "SIGINT").
  std::string stopped_by;
  /// Processes still alive after the script itself ended, then killed.
  int32_t leftovers = 0;
  uint64_t out_bytes = 0;
  uint64_t err_bytes = 0;
  uint64_t log_cut_bytes = 0; ///< Bytes left out of the log (size cap).
  uint64_t lines_dropped = 0; ///< Lines never sent to the runner (lag).
  std::string error;          ///< Why it failed, or a problem while it ran.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_end& x) {
  return f(caf::meta::type_name("run_end"), x.exit_code, x.signal,
    x.signal_name, x.core_dumped, x.timed_out, x.stopped_by, x.leftovers,
    x.out_bytes, x.err_bytes, x.log_cut_bytes, x.lines_dropped, x.error);
}

/// Every field as it is, -1 and "" included (the shim's status file and
/// socket messages): keys exit_code, signal, signal_name, core_dumped,
/// timed_out, stopped_by, leftovers, out_bytes, err_bytes, log_cut_bytes,
/// lines_dropped, error. from_json takes a missing key as its default.
void to_json(json& j, const run_end& x);
void from_json(const json& j, run_end& x);

/// Everything known about one run; the final one is kept in the history.
/// Its run_end fields are those of the end, once it ended.
struct run_record : run_end {
  std::string run_id;
  run_state state = run_state::queued;
  std::string script; ///< As requested.
  std::string path;   ///< Resolved real path (empty until resolved).
  std::vector<std::string> args;
  std::string bin;
  std::string topology;
  std::string topology_file;
  int32_t pid = 0; ///< 0 until spawned.
  int32_t pgid = 0;
  std::string cookie; ///< LABRT_RUN_COOKIE of every process of the run.
  std::string log;    ///< Log file path, empty if none.
  caf::timestamp enqueued_at;
  caf::timestamp started_at; ///< Zero until it started.
  caf::timestamp ended_at;   ///< Zero until it ended.
  int64_t duration_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_record& x) {
  return f(caf::meta::type_name("run_record"), x.run_id, x.state, x.script,
    x.path, x.args, x.bin, x.topology, x.topology_file, x.pid, x.pgid, x.cookie,
    x.log, x.enqueued_at, x.started_at, x.ended_at, x.duration_ms,
    static_cast<run_end&>(x));
}

/// How an ended run came out: "passed" (exit code 0), "failed" (another
/// exit code), "timed_out", "stopped" (by a request, a signal or shutdown),
/// "crashed" (killed by a signal nobody sent through labrt), "not_started"
/// (it could not be spawned), "cancelled" (taken off the queue) or "lost"
/// (how it ended is unknown: its shim died without a status); "" while
/// it has not ended.
const char* outcome_of(const run_record& rec);

/// Every outcome outcome_of names.
const std::vector<std::string>& run_outcomes();

/// Which finished runs a history query returns, newest first.
struct history_query {
  uint64_t limit = 50;
  std::string script;  ///< The script as requested, exactly; "" = any.
  std::string outcome; ///< An outcome_of value; "" = any.
  /// Words that must all appear in the script, args, bin or topology.
  std::string text;
  caf::timestamp since; ///< Ended at or after; zero = no bound.
  caf::timestamp until; ///< Ended before; zero = no bound.
  /// Only runs older than this one (the last of the previous page).
  std::string before;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_query& x) {
  return f(caf::meta::type_name("history_query"), x.limit, x.script,
           x.outcome, x.text, x.since, x.until, x.before);
}

/// Keys: run_id, state, outcome, script, path, args, bin, topology, topology_file,
/// pid, pgid, cookie, log (null if none), enqueued_at, started_at, ended_at
/// (ISO 8601 or null), duration_ms, exit_code (null unless it exited),
/// signal ({"number", "name"} or null), core_dumped, timed_out, stopped
/// (bool), stopped_by (null if not stopped), leftovers, out_bytes,
/// err_bytes, log_cut_bytes, lines_dropped, error (null if none).
void to_json(json& j, const run_record& x);
void from_json(const json& j, run_record& x);

/// Bytes `rec` holds (strings and containers, roughly), for byte bounds.
size_t run_footprint(const run_record& rec);

/// One line of output without its '\n'.
struct output_line {
  uint8_t stream = 1; ///< 1 = stdout, 2 = stderr.
  std::string text;
  /// Its number in the run's output, from 1, both streams counted together
  /// (dropped lines too, so a gap shows what a consumer missed). Line n ends
  /// at the n-th '\n' of the run's log file, until the log is cut; a last
  /// line that no '\n' ends is numbered after all the others.
  uint64_t n = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_line& x) {
  return f(caf::meta::type_name("output_line"), x.stream, x.text, x.n);
}

/// Lines of one run, in order, as subscribers receive them.
struct output_batch {
  std::string run_id;
  std::vector<output_line> lines;
  /// Lines lost right before these ones because a consumer lagged.
  uint64_t dropped = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_batch& x) {
  return f(caf::meta::type_name("output_batch"), x.run_id, x.lines, x.dropped);
}

void to_json(json& j, const output_batch& x);

/// A run's record, sent by the runner to its subscribers whenever the run's
/// state changed: running (with its pid), stopping, and a final state. The
/// first comes before the run's first output batch and the final one after
/// its last: a subscriber takes a run's identity from these.
struct run_update {
  run_record run;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_update& x) {
  return f(caf::meta::type_name("run_update"), x.run);
}

/// The record itself, as run_record's to_json.
void to_json(json& j, const run_update& x);

/// The queued runs, first to start first, sent to the runner's subscribers
/// whenever the queue changed (a run queued, cancelled or started).
struct queue_update {
  std::vector<run_record> queue;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, queue_update& x) {
  return f(caf::meta::type_name("queue_update"), x.queue);
}

/// {"queue": [run_record...]}.
void to_json(json& j, const queue_update& x);

/// A piece of a run's log file, read where the run ran: the run's record as
/// it was just before the read, and the bytes from `offset` on (at most a
/// chunk). Fewer bytes than asked from a run that had already ended mean
/// the log's end.
struct log_chunk {
  run_record run;
  uint64_t offset = 0;
  std::string data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_chunk& x) {
  return f(caf::meta::type_name("log_chunk"), x.run, x.offset, x.data);
}

/// {"run", "offset", "bytes"}: the data itself is the log's, not JSON's.
void to_json(json& j, const log_chunk& x);

} // namespace labrt
