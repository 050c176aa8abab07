#include "actors/run_watcher.hpp"

#include <chrono>
#include <utility>

#include "src/process.hpp"
#include "src/script_path.hpp"

namespace labrt {

void run_watcher(caf::blocking_actor* self, test_runner_internal_actor runner, watch_job job,
                 std::shared_ptr<run_channel> chan) {
  use_own_thread(self);
  // Orphans of a run re-parent to us, so that stop can find and reap them
  // (PID 1 here does not reap promptly). Only once something runs: a host
  // process that embeds the runtime keeps its own semantics until then.
  set_child_subreaper();
  auto id = job.run_id;
  run_watch watch{std::move(job)};
  watch_hooks hooks;
  hooks.started = [&](pid_t pid, pid_t pgid) {
    self->send(runner, run_started{id, pid, pgid, {}, caf::make_timestamp(),
                                   watch.script_path()});
  };
  hooks.batch = [&](std::vector<output_line> lines, uint64_t dropped) {
    self->send(runner, output_batch{id, std::move(lines), dropped});
  };
  hooks.wake = [&] {
    for (bool more = true; more;)
      self->receive(
        [&](atom::stop, std::string& by, int64_t grace_ms) {
          watch.stop(std::move(by), std::chrono::milliseconds{grace_ms});
        },
        [&](atom::abandon) { watch.abandon(); },
        caf::after(std::chrono::milliseconds{0}) >> [&] { more = false; });
  };
  auto result = watch.run(std::move(hooks));
  if (result)
    self->send(runner, std::move(*result));
  else
    self->send(runner,
               run_started{id, 0, 0, std::move(result.error()), {}, {}});
  // `chan` stays open until here: the runner may still write to it.
  chan.reset();
}

caf::expected<std::shared_ptr<run_channel>> run_channel::make() {
  auto wake = event_fd::make();
  if (!wake)
    return std::move(wake.error());
  auto credit = event_fd::make();
  if (!credit)
    return std::move(credit.error());
  return std::make_shared<run_channel>(
    run_channel{std::move(*wake), std::move(*credit)});
}

run_admission_actor::behavior_type
run_admission(std::vector<std::string> roots, std::string logs_dir) {
  return {
    [roots, logs_dir](atom::get, const std::string& script,
      bool logs_there) -> caf::expected<std::string> {
      return admit_script(roots, script, logs_there ? logs_dir : "");
    },
  };
}

} // namespace labrt
