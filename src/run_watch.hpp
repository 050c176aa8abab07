// One run from spawn to "nothing of it is left": the blocking loop a run
// watcher thread executes. Plain C++, no actors: the caller passes hooks and
// two eventfds. Linux only.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "labrt/run_types.hpp"
#include "src/plain_error.hpp"
#include "src/proc_tree.hpp"
#include "src/process.hpp"
#include "src/run_messages.hpp"

namespace labrt {

class output_capture;

/// What to run and how to treat it.
struct watch_job {
  std::string run_id;
  spawn_spec spec; ///< Its `cookie` must be set: it finds escaped descendants.
  /// If set, the script opened beneath `roots` (see open_script) right
  /// before the spawn and run from that descriptor: argv[script_arg] becomes
  /// its real path (0: it is executed) or "/dev/fd/N" (1: argv[0], e.g.
  /// /bin/sh, reads it), so a path swapped after the check cannot run.
  std::string script;
  std::vector<std::string> roots;
  size_t script_arg = 0;
  std::string log_path; ///< Empty = no log file.
  uint64_t log_max_bytes = 64ull * 1024 * 1024;
  std::chrono::milliseconds timeout{0}; ///< 0 = none.
  std::chrono::milliseconds grace{5000};
  /// Readable = the owner has news: run() calls hooks.wake (which may call
  /// stop() or abandon()). Not owned.
  int wake_fd = -1;
  /// An eventfd counter the consumer of batches adds 1 to per batch it has
  /// processed: at most `max_inflight` batches are unprocessed; past that,
  /// lines wait in one pending batch and then are dropped and counted. Not
  /// owned; -1 = no flow control.
  int credit_fd = -1;
  size_t batch_lines = 512;
  size_t batch_bytes = 64 * 1024;
  std::chrono::milliseconds flush_after{10};
  uint64_t max_inflight = 8;
};

/// Callbacks of run(), all called on the thread that runs it.
struct watch_hooks {
  /// The child exec'd.
  std::function<void(pid_t pid, pid_t pgid)> started;
  /// Lines in order, and how many were dropped right before them.
  std::function<void(std::vector<output_line> lines, uint64_t dropped)> batch;
  /// The wake fd fired (already drained).
  std::function<void()> wake;
};

/// The run: spawn, drain output, enforce the timeout, stop on request, and
/// at the end (or when the script exits while members of its tree live on)
/// TERM -> grace -> KILL -> rescan until no process of the run is found and
/// every one ever found has exited (its pidfd says so), reaping every one
/// that is ours. Processes are found by pid, process
/// group, descendants and the environment cookie; signals go through pidfds;
/// the leader stays unreaped (so its pid and group cannot be recycled) until
/// nothing else of the run is left.
class run_watch {
public:
  explicit run_watch(watch_job job);
  ~run_watch();

  run_watch(const run_watch&) = delete;
  run_watch& operator=(const run_watch&) = delete;

  /// Blocks until nothing of the run is left (or abandon()). Fails without
  /// calling any hook if the child could not be started; an unwritable log
  /// also fails before anything runs.
  plain_expected<run_ended> run(watch_hooks hooks);

  /// Stops the run (from within hooks.wake): TERM to its tree, KILL after
  /// `grace`. A second call can only shorten the grace.
  void stop(std::string by, std::chrono::milliseconds grace);

  /// Leaves the run alive and makes run() return soon (from hooks.wake).
  void abandon();

  /// The real path of the script that was started (argv[0] without a
  /// `script`); empty before.
  const std::string& script_path() const noexcept {
    return script_path_;
  }

private:
  using clock = std::chrono::steady_clock;

  void on_line(int stream, std::string_view line);
  bool flush(bool force);
  uint64_t take_credits();
  void on_leader_exit();
  int scan_and_signal(int sig, bool resignal);
  void note_sessions(const std::vector<pid_t>& pids);
  void step_stop(clock::time_point now);
  void finish_processes();
  plain_expected<child> spawn_job();

  // run()'s parts: the spawn, then turns of the loop (`over` moves the
  // timers and says whether to go on, `poll_set` says what to wait for and
  // how long, `on_ready` handles what came), then the record.
  plain_error begin(run_ended& result);
  bool over(clock::time_point now, run_ended& result);
  int poll_set(clock::time_point now);
  void on_ready();
  run_ended finish(run_ended result);

  watch_job job_;
  watch_hooks hooks_;
  child child_;
  std::string script_path_;
  // Leader.
  bool leader_exited_ = false;
  exit_info exit_;
  // Tree.
  uint64_t min_start_ = 0; // the leader's start time: nothing older is ours
  std::vector<pid_t> sessions_;
  run_processes members_;
  int leftovers_ = 0;
  // Stopping.
  bool stopping_ = false;
  bool kill_sent_ = false;
  bool timed_out_ = false;
  bool abandoned_ = false;
  bool processes_done_ = false;
  int empty_scans_ = 0;
  clock::time_point settle_until_; // see exec_settle
  std::string stopped_by_;
  clock::time_point kill_at_;
  clock::time_point next_scan_;
  // Output.
  std::vector<output_line> pending_;
  size_t pending_bytes_ = 0;
  clock::time_point pending_since_;
  uint64_t dropped_ = 0;       // not yet reported
  uint64_t dropped_total_ = 0; // for the record
  uint64_t lines_ = 0;         // numbered so far, dropped ones included
  uint64_t inflight_ = 0;

  std::unique_ptr<output_capture> cap_; // null only if it could not be made
  clock::time_point deadline_ = clock::time_point::max();
  clock::time_point next_run_scan_;
  clock::time_point linger_until_ = clock::time_point::max();
  // What one poll waits on: the output fds (the first `outputs_`), the
  // leader's pidfd, the wake fd, the credit fd, then members' pidfds.
  std::vector<pollfd> pfds_;
  size_t outputs_ = 0;
  std::vector<pid_t> polled_members_;
};

} // namespace labrt
