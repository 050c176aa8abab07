// The test-runner actor: runs scripts one at a time (more wait in a FIFO
// queue), streams their output, stops and reaps their whole process tree and
// records every run in the test_execution manager.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "../src/process.hpp"
#include "../src/run_watch.hpp"
#include "labrt/config.hpp"
#include "labrt/interfaces.hpp"

namespace labrt {

/// The two eventfds a runner shares with the watcher of its current run:
/// `wake` tells the watcher to read its mailbox, `credit` counts the output
/// batches the runner has processed. Shared so neither side closes an fd the
/// other still uses.
struct run_channel {
  unique_fd wake;
  unique_fd credit;

  static caf::expected<std::shared_ptr<run_channel>> make();
  void notify_wake() const noexcept;
  void add_credit() const noexcept;
};

/// State of the test runner.
///
/// The handlers only decide and send: spawning, waiting, reading pipes and
/// the TERM/grace/KILL sequence all happen on the current run's watcher, a
/// detached actor (see run_watch) that reports `run_started`, output batches
/// and `run_ended`. The plain methods below hold the logic and are tested
/// without actors.
struct test_runner_state {
  static inline const char* name = "labrt.test_runner";

  using promise = caf::typed_response_promise<run_record>;

  /// The run in progress.
  struct active {
    run_record rec;
    run_spec spec;
    run_watcher_actor watcher;
    std::shared_ptr<run_channel> chan;
    std::optional<promise> start_promise;
    std::vector<promise> stop_promises;
    bool start_pending = false;   ///< test_execution has not answered start.
    bool recorded = false;        ///< test_execution holds this run.
    std::optional<run_ended> end; ///< Arrived while start_pending.
    /// Output that arrived while start_pending. Subscribers learn a run's id
    /// from test_execution's change events, so its lines wait for those (the
    /// watcher, short of credit meanwhile, holds the rest).
    std::vector<output_batch> held;
  };

  /// A subscriber to output and the batches it has not answered yet.
  struct output_sub {
    run_output_actor sink;
    uint64_t inflight = 0;
    uint64_t dropped = 0; ///< Lines it missed since its last batch.
  };

  /// Unanswered batches per subscriber before its lines are dropped.
  static constexpr uint64_t max_sub_inflight = 8;

  ~test_runner_state();

  /// A refusal naming the current run (errc::already_running).
  caf::error busy_error() const;

  /// Checks a spec and resolves its script against the roots: a queued
  /// record with a fresh run id and log path, or the reason to refuse.
  caf::expected<run_record> admit(const run_spec& spec);

  /// What the watcher of `rec` needs: argv, environment, cookie, limits.
  watch_job make_job(const run_record& rec, const run_spec& spec) const;

  /// The fields recorded in test_execution at start (besides script, pid).
  static json start_fields(const run_record& rec);

  /// The fields recorded in test_execution at the end.
  static json end_fields(const run_record& rec);

  /// Closes the record of a run that never ran: failed, why, ended now.
  static void close_failed(run_record& rec, std::string why);

  /// Copies the end of a run into its record (state finished).
  static void apply_end(run_record& rec, const run_ended& end);

  /// Removes a queued run; its record, cancelled.
  caf::expected<run_record> cancel(const std::string& id);

  /// The record of a current, queued or finished run.
  caf::expected<run_record> find(const std::string& id) const;

  /// Up to `n` finished runs, newest first.
  std::vector<run_record> history(uint64_t n) const;

  /// What the queued runs hold (run_footprint of records and specs).
  size_t queue_bytes() const;

  /// The queued runs in order.
  std::vector<run_record> queued() const;

  /// The queue for subscribers if it changed since the last call.
  std::optional<queue_update> queue_changed();

  /// Keeps a finished record (bounded) and answers whoever waits for it.
  void remember(run_record rec);

  json metrics() const;

  std::string next_run_id();

  runner_config cfg_;
  test_execution_actor tests_;
  std::optional<active> current_;
  std::deque<std::pair<run_record, run_spec>> queue_;
  std::vector<std::string> queue_seen_; ///< Run ids at the last queue_changed.
  std::deque<run_record> history_;
  size_t history_bytes_ = 0; ///< run_footprint of history_.
  std::map<std::string, std::vector<promise>> waiters_;
  std::map<caf::actor_addr, output_sub> subs_;
  bool shutting_down_ = false;
  caf::error exit_reason_;
  uint64_t seq_ = 0;
  std::string cookie_base_;
  // Metrics.
  uint64_t started_ = 0;
  uint64_t failed_ = 0;
  uint64_t refused_ = 0;
  uint64_t stopped_ = 0;
  uint64_t timed_out_ = 0;
  uint64_t batches_ = 0;
  uint64_t lines_ = 0;
  uint64_t lines_dropped_ = 0;
};

/// Spawns with `cfg` (validated by runtime::make); runs are recorded in
/// `tests`. Traps exits: on an exit message it cancels the queue, stops the
/// current run (or leaves it, per `cfg.stop_on_shutdown`) and quits once
/// the run's end is recorded (and sent to test_execution).
test_runner_actor::behavior_type test_runner(
  test_runner_actor::stateful_pointer<test_runner_state> self,
  runner_config cfg, test_execution_actor tests);

} // namespace labrt
