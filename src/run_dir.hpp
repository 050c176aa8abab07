// A run's directory under `<state_dir>/runs/<run_id>/`: what its shim and
// the daemon leave there so that a run outlives the daemon. Plain C++, no
// actors.
//
//   spec.json    the run's record and its watch_job (the daemon, before the shim)
//   shim.json    the shim's pid and start time (the shim, before the spawn)
//   started.json the script's pid, pgid, start and path (the shim)
//   status.json  how it ended (the shim, last; atomically)
//   sock         the shim's Unix socket (gone once status.json exists)
//   shim.log     the shim's own stderr
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "labrt/json.hpp"
#include "labrt/run_types.hpp"
#include "src/plain_error.hpp"
#include "src/run_messages.hpp"
#include "src/run_watch.hpp"

namespace labrt {

/// Longest Unix socket path (sun_path holds 108 bytes with the NUL).
inline constexpr size_t max_socket_path = 107;

/// `<runs_dir>/<run_id>`, `<dir>/sock` and so on.
std::string run_dir_of(const std::string& runs_dir, const std::string& run_id);
std::string socket_path_of(const std::string& dir);

/// Writes all of `text` to `fd` (retrying short writes); through send()
/// with `send_flags` if they are >= 0 (a socket). False on an error.
bool write_all(int fd, const std::string& text, int send_flags = -1);

/// Writes `text` to `path` through `path.tmp` and rename: a reader sees the
/// old file or the whole new one, and a crash of the writer or the daemon
/// loses nothing. No fsync: its wait, seconds on a busy disk, would delay
/// the daemon's answer; the kernel writes the file back within its dirty
/// expiry (about 30 s), the window a power loss has, as for the database.
plain_error write_atomically(const std::string& path, const std::string& text);

/// Reads a JSON object file; errc::not_found if it does not exist.
plain_expected<json> read_json_file(const std::string& path);

json job_to_json(const watch_job& job);
watch_job job_from_json(const json& j);

/// started.json, and the shim's "started" report: the script exec'd.
struct started_info {
  pid_t pid = 0;
  pid_t pgid = 0;
  caf::timestamp at;        ///< When the shim saw the spawn.
  std::string path;         ///< The real path of the file that runs.
  uint64_t start_ticks = 0; ///< The leader's start time (proc_stat).
};

json started_to_json(const started_info& x);
started_info started_from_json(const json& j);

json ended_to_json(const run_ended& x);
run_ended ended_from_json(const json& j);

/// Creates the run's directory (0700) and its spec.json: `rec` and `job`.
/// Fails if the directory exists or its socket path would not fit sun_path.
plain_expected<std::string> make_run_dir(
  const std::string& runs_dir, const run_record& rec, const watch_job& job);

/// A process identified by pid and start time (proc_stat::start_ticks).
struct proc_identity {
  pid_t pid = 0;
  uint64_t start_ticks = 0;
};

/// This process's identity.
proc_identity self_identity();

/// Whether `id` is alive as the very process recorded (not a recycled pid).
bool is_alive_as(const proc_identity& id);

/// A run directory as the daemon finds it at start.
struct found_run {
  enum kind_t : uint8_t {
    live,     ///< Its shim runs: re-attach.
    finished, ///< status.json holds its end.
    lost,     ///< No shim, no status: `end.error` says what is known.
  };
  std::string dir;
  kind_t kind = lost;
  run_record rec; ///< From spec.json, with started.json's pid and start.
  run_ended end;  ///< finished and lost.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, found_run& x) {
  return f(caf::meta::type_name("found_run"), x.dir, x.kind, x.rec, x.end);
}

/// Reads every run directory under `runs_dir`, oldest first. Directories
/// without a readable spec are removed (they never ran: the shim reads the
/// spec before anything). What is left of a lost run is killed.
std::vector<found_run> scan_run_dirs(const std::string& runs_dir);

/// SIGKILLs every process of the run (leader by pid with start time, and
/// the cookie's holders) until none is found or `patience` passed; how many
/// were killed.
int kill_run_leftovers(const run_record& rec, uint64_t leader_start,
                       std::chrono::milliseconds patience);

/// Removes a run directory whose end is recorded.
void remove_run_dir(const std::string& dir);

} // namespace labrt
