// The watcher of one run: a detached actor around run_watch that owns the
// run's child, pipes and pidfd and reports to the runner by message, and the
// runner's wide interface that takes those reports.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/blocking_actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_execution_unit.hpp>
#include <caf/typed_actor.hpp>

#include "labrt/interfaces.hpp"
#include "src/event_fd.hpp"
#include "src/run_watch.hpp"

namespace labrt {

/// The runner as the runtime spawns it: the public interface plus the
/// reports of its run watchers, which nobody else may send.
using test_runner_internal_actor = test_runner_actor::extend<
  /// From a run watcher: the child exec'd, or the spawn failed.
  caf::reacts_to<run_started>,
  /// From a run watcher: nothing of the run is left.
  caf::reacts_to<run_ended>,
  /// From a run watcher: lines of the current run.
  caf::reacts_to<output_batch>,
  /// From the maker of a spare shim: the shim for the next run.
  caf::reacts_to<spare_ready>>;

/// A run watcher as its runner sees it. It reads its mailbox only when the
/// runner wakes it through the run's channel.
using run_watcher_actor = caf::typed_actor<
  /// Stops the run: TERM to its tree, KILL after grace_ms, until nothing is left.
  caf::reacts_to<atom::stop, std::string, int64_t>,
  /// Leaves the run alive and returns (runtime shutdown with stop_on_shutdown off).
  caf::reacts_to<atom::abandon>>;

/// The two eventfds a runner shares with the watcher of its current run:
/// `wake` tells the watcher to read its mailbox, `credit` counts the output
/// batches the runner has processed. Shared so neither side closes an fd the
/// other still uses.
struct run_channel {
  event_fd wake;
  event_fd credit;

  static caf::expected<std::shared_ptr<run_channel>> make();
};

/// Makes a blocking actor's sends from its own thread wake the scheduler.
/// Spawned by a scheduled actor, it keeps that actor's worker as its
/// context, and a send would queue the receiver on that worker without
/// waking it: the message waits out the worker's idle sleep.
inline void use_own_thread(caf::blocking_actor* self) {
  // Per thread, and it outlives the actor: its exit sends too.
  thread_local caf::scoped_execution_unit unit;
  unit.system_ptr(&self->system());
  self->context(&unit);
}

/// The watcher's body: runs `job` and reports run_started (or a failed
/// one), output batches and run_ended to `runner`.
void run_watcher(caf::blocking_actor* self, test_runner_internal_actor runner, watch_job job,
                 std::shared_ptr<run_channel> chan);

/// What a shim watcher does: start `job` through the shim at `shim` in a
/// new directory under `runs_dir`, or (`attach`) re-attach to the live shim
/// of the run `job.run_id` there.
struct shim_job {
  std::string shim;
  std::string runs_dir;
  run_record rec; ///< Written to the run's spec for a later re-adoption.
  watch_job job;
  bool attach = false;
  /// The runner's spare shim, if it has one: the run goes there.
  std::shared_ptr<spare_shim> spare;
};

/// The watcher of a run started through a shim: the same reports as
/// run_watcher, relayed from the shim's socket. Abandoning leaves the shim.
void shim_watcher(caf::blocking_actor* self, test_runner_internal_actor runner,
                  shim_job job, std::shared_ptr<run_channel> chan);

/// Answers one atom::list with what scan_run_dirs finds in `runs_dir`, then
/// quits. Detached: it reads files and may kill what lost runs left.
caf::behavior run_scanner(caf::event_based_actor* self, std::string runs_dir);

/// The file work of admitting a run, off the scheduler: given the script
/// and whether its log goes to the logs_dir, admit_script's real path. One
/// per runner, so its answers come in the order asked.
using run_admission_actor = caf::typed_actor<
  caf::replies_to<atom::get, std::string, bool>::with<std::string>>;

/// Spawn detached, with the runner's roots and logs_dir.
run_admission_actor::behavior_type
run_admission(std::vector<std::string> roots, std::string logs_dir);

} // namespace labrt
