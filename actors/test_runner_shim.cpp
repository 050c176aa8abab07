// The runner's runs in shims: starting one, and taking back at start the
// runs a previous daemon left.
#include "actors/test_runner.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "labrt/errc.hpp"
#include "src/shim_link.hpp"

namespace labrt {

namespace {

using namespace std::chrono_literals;
using self_ptr = test_runner_internal_actor::stateful_pointer<test_runner_state>;

/// A watcher attached to the shim of the current (adopted) run.
void attach(self_ptr self, const std::string& id) {
  auto& cur = self->state.current_;
  if (!cur || cur->rec.run_id != id)
    return;
  auto chan = run_channel::make();
  if (!chan) {
    run_ended end;
    end.run_id = id;
    end.lost = true;
    end.error = "lost: cannot re-attach: " + render(chan.error());
    self->send(self, std::move(end));
    return;
  }
  shim_job job{{}, self->state.cfg_.runs_dir, cur->rec, {}, true, {}};
  job.job.run_id = id;
  auto watcher = self->spawn<caf::detached>(shim_watcher,
    caf::actor_cast<test_runner_internal_actor>(self), std::move(job), *chan);
  self->monitor(watcher);
  cur->watcher = caf::actor_cast<run_watcher_actor>(watcher);
  cur->chan = std::move(*chan);
}

void adopt(self_ptr self, found_run& found) {
  auto& st = self->state;
  auto& run = st.current_.emplace();
  run.rec = std::move(found.rec);
  run.rec.state = run_state::running;
  run.dir = std::move(found.dir);
  auto id = run.rec.run_id;
  auto fields = test_runner_state::reserve_fields(run.rec);
  fields.update(test_runner_state::start_fields(run.rec));
  fields.erase("pid"); // start's own arguments
  fields.erase("script");
  // Awaited: nothing else is handled before the slot is the run's again.
  self->request(st.tests_, 10s, atom::start_v, run.rec.path, json(run.rec.pid),
                fields)
    .await([self, id](json&) { attach(self, id); },
           [self, id](caf::error& err) {
             auto& cur = self->state.current_;
             if (cur && cur->rec.run_id == id)
               cur->rec.error = "test_execution refused the slot: "
                                + message_of(err);
             attach(self, id);
           });
}

void adopt_found(self_ptr self, std::vector<found_run>& found) {
  auto& st = self->state;
  for (auto& f : found) {
    // One run at a time: a second live one cannot have been started.
    if (f.kind == found_run::live && !st.current_) {
      adopt(self, f);
      continue;
    }
    if (f.kind == found_run::live)
      continue; // Left for the next start rather than closed as untrue.
    auto rec = test_runner_state::close_found(f);
    st.count_end(rec);
    save_run(self, rec, std::move(f.dir));
    st.remember(std::move(rec));
  }
  restore_queue(self);
}

} // namespace

void adopt_left_runs(self_ptr self) {
  // Awaited: a start must see the slot of a live run taken.
  auto scanner = self->spawn<caf::detached>(run_scanner,
                                            self->state.cfg_.runs_dir);
  self->request(scanner, 60s, atom::list_v)
    .await(
      [self](std::vector<found_run>& found) {
        adopt_found(self, found);
        make_spare_shim(self); // Not before: the adoption is what waits.
      },
      [self](caf::error&) {
        // Runs left behind stay in their directories for the next start.
        restore_queue(self);
        make_spare_shim(self);
      });
}

caf::actor spawn_shim_watcher(self_ptr self, watch_job job,
                              std::shared_ptr<run_channel> chan) {
  auto& st = self->state;
  auto& run = *st.current_;
  run.dir = run_dir_of(st.cfg_.runs_dir, run.rec.run_id);
  return self->spawn<caf::detached>(shim_watcher,
    caf::actor_cast<test_runner_internal_actor>(self),
    shim_job{find_shim(st.cfg_.shim), st.cfg_.runs_dir, run.rec, std::move(job),
      false, std::exchange(st.spare_, nullptr)},
    std::move(chan));
}

void make_spare_shim(self_ptr self) {
  auto& st = self->state;
  if (st.spare_ || st.spare_coming_ || st.shutting_down_)
    return;
  st.spare_coming_ = true;
  auto me = caf::actor_cast<test_runner_internal_actor>(self);
  // A fork and an exec: blocking work, on a thread of its own.
  self->spawn<caf::detached>(
    [me](caf::blocking_actor* maker, const std::string& shim,
      const std::vector<std::string>& inherit_env) {
      use_own_thread(maker);
      spare_ready msg;
      if (auto spare = spare_shim::spawn(shim, inherit_env))
        msg.spare = std::make_shared<spare_shim>(std::move(*spare));
      maker->send(me, std::move(msg));
    },
    find_shim(st.cfg_.shim), st.cfg_.inherit_env);
}

namespace {

/// Ends and reaps `spare` on a thread of its own: its destructor waits.
void dispose(self_ptr self, std::shared_ptr<spare_shim> spare) {
  if (spare)
    self->spawn<caf::detached>(
      // With a self pointer, CAF moves the argument in: the reset is here.
      [](caf::blocking_actor*, spare_ready doomed) { doomed.spare.reset(); },
      spare_ready{std::move(spare)});
}

} // namespace

void keep_spare_shim(self_ptr self, spare_ready& msg) {
  auto& st = self->state;
  st.spare_coming_ = false;
  if (st.spare_ || st.shutting_down_)
    dispose(self, std::move(msg.spare));
  else
    st.spare_ = std::move(msg.spare); // Null if none could be had.
}

void drop_spare_shim(self_ptr self) {
  dispose(self, std::exchange(self->state.spare_, nullptr));
}

void forget_run_dir(self_ptr self, const std::string& dir) {
  if (!dir.empty())
    // The path goes in as an argument: CAF 0.17 applies an actor function's
    // arguments through a pointer that is null when there are none (UB).
    self->spawn<caf::detached>(
      [](const std::string& path) { remove_run_dir(path); }, dir);
}

} // namespace labrt
