// The watcher of a run that lives in a shim, and the scan of the runs a
// previous daemon left.
#include "actors/run_watcher.hpp"

#include <chrono>
#include <utility>

#include "labrt/errc.hpp"
#include "src/run_dir.hpp"
#include "src/shim_link.hpp"

namespace labrt {

namespace {

/// The run in `dir` through the runner's spare shim, else a new one.
caf::expected<shim_link> launch(shim_job& job, const std::string& dir) {
  if (auto spare = std::exchange(job.spare, nullptr))
    if (auto link = shim_link::launch(std::move(*spare), dir))
      return link;
  // No spare, or it died waiting (killed by someone).
  auto fresh = spare_shim::spawn(job.shim, job.job.spec.inherit_env);
  if (!fresh)
    return std::move(fresh.error());
  return shim_link::launch(std::move(*fresh), dir);
}

caf::expected<shim_link> open_link(shim_job& job) {
  auto dir = run_dir_of(job.runs_dir, job.job.run_id);
  if (job.attach)
    return shim_link::attach(dir);
  auto made = make_run_dir(job.runs_dir, job.rec, job.job);
  if (!made)
    return std::move(made.error());
  auto link = launch(job, dir);
  if (!link)
    remove_run_dir(dir); // Nothing runs: nothing to re-adopt.
  return link;
}

} // namespace

void shim_watcher(caf::blocking_actor* self, test_runner_internal_actor runner,
                  shim_job job, std::shared_ptr<run_channel> chan) {
  use_own_thread(self);
  auto id = job.job.run_id;
  auto link = open_link(job);
  if (!link) {
    if (job.attach) {
      // Alive a moment ago, unreachable now: the run's end is unknown.
      run_ended end;
      end.run_id = id;
      end.lost = true;
      end.error = "lost: cannot re-attach to its shim: " + render(link.error());
      self->send(runner, std::move(end));
    } else {
      self->send(runner, run_started{id, 0, 0, std::move(link.error()), {}, {}});
    }
    return;
  }
  shim_hooks hooks;
  hooks.started = [&](run_started s) { self->send(runner, std::move(s)); };
  hooks.batch = [&](output_batch b) { self->send(runner, std::move(b)); };
  hooks.wake = [&] {
    for (bool more = true; more;)
      self->receive(
        [&](atom::stop, std::string& by, int64_t grace_ms) {
          link->stop(by, std::chrono::milliseconds{grace_ms});
        },
        [&](atom::abandon) { link->abandon(); },
        caf::after(std::chrono::milliseconds{0}) >> [&] { more = false; });
  };
  auto result = link->run(id, std::move(hooks), chan->wake.get(),
                          chan->credit.get());
  if (result)
    self->send(runner, std::move(*result));
  else
    self->send(runner, run_started{id, 0, 0, std::move(result.error()), {}, {}});
  chan.reset();
}

caf::behavior run_scanner(caf::event_based_actor* self, std::string runs_dir) {
  return {
    [self, runs_dir](atom::list) {
      self->quit();
      return scan_run_dirs(runs_dir);
    },
  };
}

} // namespace labrt
