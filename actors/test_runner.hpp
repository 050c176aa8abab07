// The test-runner actor: runs scripts one at a time (more wait in a FIFO
// queue), streams their output, stops and reaps their whole process tree and
// holds test_execution's one-test slot for each run.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/persistence.hpp"
#include "actors/run_watcher.hpp"
#include "actors/test_execution.hpp"
#include "src/run_dir.hpp"
#include "labrt/config.hpp"
#include "labrt/interfaces.hpp"

namespace labrt {

/// State of the test runner, the one owner of every run's record.
///
/// A run's life, one message per step: the runner reserves test_execution's
/// slot in the run's name (nothing is spawned before it holds the slot), its
/// watcher (a detached actor, see run_watcher) spawns the script and reports
/// run_started, output batches and run_ended; the runner fills in the pid,
/// and at the end frees the slot. Its subscribers get the run's record
/// (run_update) before its first output and after its last, all from this
/// one sender, so they arrive in that order. The plain methods below hold
/// the bookkeeping and are tested without actors.
struct test_runner_state {
  static inline const char* name = "labrt.test_runner";

  using promise = caf::typed_response_promise<run_record>;

  /// The run that holds the slot, from its reservation to its end.
  struct active {
    run_record rec;
    run_spec spec;
    run_watcher_actor watcher; ///< Null until the slot is reserved.
    std::shared_ptr<run_channel> chan;
    std::optional<promise> start_promise;
    std::vector<promise> stop_promises;
    caf::error failure; ///< Why it never ran, for the start promise.
    /// Its directory under cfg_.runs_dir; empty when it is our child.
    std::string dir;
  };

  /// A subscriber to runs and the output batches it has not answered yet.
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

  /// Why `spec` is refused before any file is looked at, or no error.
  caf::error check(const run_spec& spec);

  /// A queued record of `spec` with a fresh run id and log path, its script
  /// found at `path` (run_admission's answer).
  run_record admit(const run_spec& spec, std::string path);

  /// What the watcher of `rec` needs: argv, environment, cookie, limits.
  watch_job make_job(const run_record& rec, const run_spec& spec) const;

  /// The fields of test_execution's reservation (besides script and pid).
  static json reserve_fields(const run_record& rec);

  /// The fields test_execution learns once the script exec'd.
  static json start_fields(const run_record& rec);

  /// The fields test_execution keeps of a run's end.
  static json end_fields(const run_record& rec);

  /// Copies the watcher's start into the record (state running).
  static void apply_start(run_record& rec, const run_started& start);

  /// Copies the end of a run into its record (state finished, ended now).
  static void apply_end(run_record& rec, const run_ended& end);

  /// Closes the record of a run that never ran: `state`, why, ended now.
  static void close_unrun(run_record& rec, run_state state, std::string why);

  /// The final record of a run a previous daemon left that is not live:
  /// its end read from its status, or lost.
  static run_record close_found(const found_run& found);

  /// Removes a queued run; its record, cancelled.
  caf::expected<run_record> cancel(const std::string& id);

  /// The record of a current, queued or finished run.
  caf::expected<run_record> find(const std::string& id) const;

  /// Up to `n` finished runs, newest first.
  std::vector<run_record> history(uint64_t n) const;
  /// The finished runs `q` asks for, newest first.
  std::vector<run_record> history(const history_query& q) const;

  /// What the queued runs hold (run_footprint of records and specs),
  /// those still being admitted included.
  size_t queue_bytes() const;

  /// Why the queue cannot take `spec` (full by runs or bytes), or no error.
  caf::error queue_room(const run_spec& spec) const;

  /// Counts `n` runs of `bytes` each in (1) or out (-1) of admission.
  void admitting(int n, size_t bytes);

  /// The queued runs in order.
  std::vector<run_record> queued() const;

  /// The queue for subscribers if it changed since the last call.
  std::optional<queue_update> queue_changed();

  /// Keeps a finished record (bounded) and answers whoever waits for it.
  void remember(run_record rec);

  /// Counts the end of the current run by how it ended.
  void count_end(const run_record& rec);

  json metrics() const;

  std::string next_run_id();

  runner_config cfg_;
  test_execution_internal_actor tests_;
  /// The database writer, which then also answers history queries; null
  /// without a state_dir (the history is the bounded one in memory).
  persistence_actor db_;
  uint64_t unsaved_ = 0; ///< Records the database did not take.
  /// Ends sent to the database and not answered yet: a stopping runner
  /// waits for them, so their directories go with them.
  size_t ends_unsaved_ = 0;
  std::optional<active> current_;
  std::deque<std::pair<run_record, run_spec>> queue_;
  /// Enqueued runs not in queue_ yet: their script being resolved, their
  /// entry being committed.
  size_t admitting_ = 0;
  size_t admitting_bytes_ = 0;
  /// The queue the database kept, restored once the left runs are adopted.
  std::vector<queued_run> restore_;
  run_admission_actor admission_;
  std::vector<std::string> queue_seen_; ///< Run ids at the last queue_changed.
  std::deque<run_record> history_;
  size_t history_bytes_ = 0; ///< run_footprint of history_.
  std::map<std::string, std::vector<promise>> waiters_;
  std::map<caf::actor_addr, output_sub> subs_;
  /// A shim waiting for the next run (with a runs_dir), and whether one is
  /// being made.
  std::shared_ptr<spare_shim> spare_;
  bool spare_coming_ = false;
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

/// Reads what a previous daemon left in cfg_.runs_dir before the runner
/// handles anything else: the live run becomes the current one (its slot
/// taken again, a watcher attached to its shim), the others are closed with
/// what their directory tells and kept as history; then a spare shim.
void adopt_left_runs(
  test_runner_internal_actor::stateful_pointer<test_runner_state> self);

/// Spawns the watcher of the current run, started through a shim in a new
/// directory under cfg_.runs_dir (which becomes the run's `dir`).
caf::actor spawn_shim_watcher(
  test_runner_internal_actor::stateful_pointer<test_runner_state> self,
  watch_job job, std::shared_ptr<run_channel> chan);

/// Has a spare shim made for the next run, unless there is one or it is
/// being made; spare_ready brings it.
void make_spare_shim(
  test_runner_internal_actor::stateful_pointer<test_runner_state> self);

/// Keeps the spare shim `msg` brings (disposing of it if not needed).
void keep_spare_shim(
  test_runner_internal_actor::stateful_pointer<test_runner_state> self,
  spare_ready& msg);

/// Ends and reaps the spare shim, if any, off the scheduler.
void drop_spare_shim(
  test_runner_internal_actor::stateful_pointer<test_runner_state> self);

/// Removes a run's directory (once its end is recorded), off the scheduler.
void forget_run_dir(
  test_runner_internal_actor::stateful_pointer<test_runner_state> self,
  const std::string& dir);

/// Spawns with `cfg` (validated by runtime::make); runs hold the slot of
/// `tests`. Traps exits: on an exit message it cancels the queue, stops the
/// current run (or leaves it, per `cfg.stop_on_shutdown`) and quits once
/// the run's end is recorded (and sent to test_execution).
test_runner_internal_actor::behavior_type
test_runner(test_runner_internal_actor::stateful_pointer<test_runner_state> self,
            runner_config cfg, test_execution_internal_actor tests);

using runner_self = test_runner_internal_actor::stateful_pointer<test_runner_state>;

/// The same, writing every run's record to `db` as it starts, changes
/// state and ends, and each queued run before it is acknowledged, reading
/// the history from there; `queue` is what the database kept of the queue
/// (store_db::load_queue).
test_runner_internal_actor::behavior_type
durable_test_runner(runner_self self, runner_config cfg,
                    test_execution_internal_actor tests, persistence_actor db,
                    std::vector<queued_run> queue);

// actors/test_runner_run.cpp: a run's steps, one message each.

/// Tells every subscriber the current run's record (and the database,
/// which removes `done_dir` once it has it: see save_run).
void publish_run(runner_self self, std::string done_dir = {});

/// Tells the subscribers the queue if it changed.
void publish_queue(runner_self self);

/// Sends a batch to every subscriber that has room for it.
void on_output(runner_self self, output_batch& batch);

/// A run takes the slot in test_execution; nothing is spawned before that.
void reserve(runner_self self, run_record rec, run_spec spec,
             std::optional<test_runner_state::promise> rp);

void on_started(runner_self self, run_started& msg);

void on_ended(runner_self self, run_ended& msg);

/// The watcher died without reporting an end: never hang the run.
void on_watcher_down(runner_self self, const caf::error& reason);

/// Stops the current run: `by` names who asked.
void tell_watcher(runner_self self, const std::string& by, int64_t grace_ms);

/// Starts the first queued run if nothing runs.
void start_next(runner_self self);

/// An admitted run joins the queue (and starts if nothing runs); `rp` gets
/// its record. While the runner stops it is cancelled instead, or left to
/// the database when the runner leaves runs alive.
void queue_run(runner_self self, run_record rec, run_spec spec,
               test_runner_state::promise rp);

/// Cancels the queue (or leaves it to the database, see durability) and
/// stops or abandons the current run; quits once nothing runs.
void on_exit_request(runner_self self, caf::exit_msg& msg);

/// Quits if stopping, nothing runs and every end is saved.
void quit_if_done(runner_self self);

// actors/test_runner_db.cpp: the runner's handlers that use the database.

/// Sends `rec` to the database, if there is one, without waiting; removes
/// `done_dir` (an ended run's directory) once the database has the record.
void save_run(runner_self self, const run_record& rec,
              std::string done_dir = {});

/// The same, answering `rec` once the database took it (at once without
/// one), or an error saying it did not.
caf::result<run_record> commit_run(runner_self self, run_record rec);

/// Commits a queued run to the database (if there is one) before it joins
/// the queue (queue_run); `done` runs first either way. A failed commit
/// refuses the run.
void keep_queued(runner_self self, run_record rec, run_spec spec,
                 test_runner_state::promise rp, std::function<void()> done);

/// Puts back the queue the database kept (restore_) behind what the
/// adoption of left runs took, skipping runs that started before the
/// restart; then starts the next run if nothing runs.
void restore_queue(runner_self self);

/// A run's record: the current or a queued run, one in memory, else the
/// database's.
caf::result<run_record> find_run(runner_self self, const std::string& id);

/// The history: the database's, else the one in memory.
caf::result<std::vector<run_record>> query_history(runner_self self,
                                                   const history_query& q);

} // namespace labrt
