// A run's steps, one message each: reserving the slot, launching the
// watcher, its start, output and end, and the next run of the queue. The
// requests that lead here are in test_runner.cpp.
#include "actors/test_runner.hpp"

#include <utility>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "labrt/errc.hpp"

namespace labrt {

using namespace std::chrono_literals;

namespace {

/// Sends `batch` to one subscriber, with the lines it missed since its last.
void send_batch(runner_self self, const caf::actor_addr& addr,
  test_runner_state::output_sub& sub, output_batch batch) {
  batch.dropped += sub.dropped;
  sub.dropped = 0;
  ++sub.inflight;
  auto done = [self, addr] {
    auto i = self->state.subs_.find(addr);
    if (i != self->state.subs_.end() && i->second.inflight > 0)
      --i->second.inflight;
  };
  self->request(sub.sink, caf::infinite, std::move(batch))
    .then([done] { done(); }, [done](caf::error&) { done(); });
}

/// Writes to test_execution in the current run's name; a refusal (somebody
/// took the slot meanwhile through reset or start_test) is noted in the
/// run's record.
template <class... Ts>
void tell_slot(runner_self self, Ts... xs) {
  auto& st = self->state;
  auto note = [self, id = st.current_->rec.run_id](caf::error& err) {
    auto& cur = self->state.current_;
    auto text = "test_execution: " + render(err);
    if (cur && cur->rec.run_id == id) {
      cur->rec.error += (cur->rec.error.empty() ? "" : "; ") + text;
      return;
    }
    for (auto& rec : self->state.history_)
      if (rec.run_id == id && rec.error.empty())
        rec.error = text;
  };
  self->request(st.tests_, 10s, xs...).then([](json&) {}, note);
}

/// The current run is over: its final record goes to the subscribers (after
/// the lines they missed at its end), the slot is freed if it was held,
/// every promise answered, the record kept, and the next run starts.
void finish(runner_self self, bool holds_slot) {
  auto& st = self->state;
  auto& rec = st.current_->rec;
  st.count_end(rec);
  for (auto& [addr, sub] : st.subs_)
    if (sub.dropped > 0)
      send_batch(self, addr, sub, output_batch{rec.run_id, {}, 0});
  publish_run(self, std::move(st.current_->dir));
  // Before any promise: whoever learns of the end and then takes the slot
  // (start_test) reaches test_execution after this release.
  if (holds_slot)
    tell_slot(self, atom::release_v, rec.run_id,
      test_runner_state::end_fields(rec));
  auto run = std::move(*st.current_);
  st.current_.reset();
  if (run.start_promise) {
    if (run.rec.state == run_state::finished)
      run.start_promise->deliver(run.rec);
    else if (run.failure)
      run.start_promise->deliver(std::move(run.failure));
    else
      run.start_promise->deliver(make_error(
        run.rec.state == run_state::failed ? errc::spawn_failed
                                           : errc::not_running,
        run.rec.error));
  }
  for (auto& rp : run.stop_promises)
    rp.deliver(run.rec);
  st.remember(std::move(run.rec));
  if (st.shutting_down_) {
    quit_if_done(self);
    return;
  }
  start_next(self);
}

/// The slot is ours: spawn the watcher, unless the run was stopped or the
/// runner told to quit meanwhile.
void launch(runner_self self) {
  auto& st = self->state;
  auto& run = *st.current_;
  if (run.rec.state == run_state::stopping || st.shutting_down_) {
    test_runner_state::close_unrun(run.rec, run_state::cancelled,
      "stopped before it started");
    finish(self, true);
    return;
  }
  auto chan = run_channel::make();
  if (!chan) {
    test_runner_state::close_unrun(run.rec, run_state::failed,
      render(chan.error()));
    finish(self, true);
    return;
  }
  auto job = st.make_job(run.rec, run.spec);
  run.spec = {}; // The watcher has what it needs.
  auto me = caf::actor_cast<test_runner_internal_actor>(self);
  caf::actor watcher;
  if (!st.cfg_.runs_dir.empty()) {
    watcher = spawn_shim_watcher(self, std::move(job), *chan);
  } else {
    job.wake_fd = (*chan)->wake.get();
    job.credit_fd = (*chan)->credit.get();
    watcher = self->spawn<caf::detached>(run_watcher, me, std::move(job), *chan);
  }
  self->monitor(watcher);
  run.watcher = caf::actor_cast<run_watcher_actor>(watcher);
  run.chan = std::move(*chan);
}

} // namespace

void publish_run(runner_self self, std::string done_dir) {
  auto& st = self->state;
  save_run(self, st.current_->rec, std::move(done_dir));
  for (auto& [addr, sub] : st.subs_)
    self->send(sub.sink, run_update{st.current_->rec});
}

void publish_queue(runner_self self) {
  auto& st = self->state;
  if (auto update = st.queue_changed())
    for (auto& [addr, sub] : st.subs_)
      self->send(sub.sink, *update);
}

void on_output(runner_self self, output_batch& batch) {
  auto& st = self->state;
  if (st.current_ && st.current_->rec.run_id == batch.run_id)
    st.current_->chan->credit.notify();
  ++st.batches_;
  st.lines_ += batch.lines.size();
  st.lines_dropped_ += batch.dropped;
  for (auto& [addr, sub] : st.subs_) {
    if (sub.inflight >= test_runner_state::max_sub_inflight) {
      sub.dropped += batch.lines.size() + batch.dropped;
      continue;
    }
    send_batch(self, addr, sub, batch);
  }
}

void reserve(runner_self self, run_record rec, run_spec spec,
  std::optional<test_runner_state::promise> rp) {
  auto& st = self->state;
  rec.state = run_state::starting;
  auto id = rec.run_id;
  auto path = rec.path;
  auto fields = test_runner_state::reserve_fields(rec);
  st.current_.emplace();
  st.current_->rec = std::move(rec);
  st.current_->spec = std::move(spec);
  st.current_->start_promise = std::move(rp);
  self->request(st.tests_, 10s, atom::start_v, path, json{}, fields)
    .then([self](json&) { launch(self); },
      [self](caf::error& err) {
        // The slot is somebody else's (start_test of the old API).
        auto& run = *self->state.current_;
        test_runner_state::close_unrun(run.rec, run_state::failed,
          "test_execution refused the start: " + message_of(err));
        run.failure = std::move(err);
        finish(self, false);
      });
}

void on_started(runner_self self, run_started& msg) {
  auto& st = self->state;
  if (!st.current_ || st.current_->rec.run_id != msg.run_id)
    return;
  auto& run = *st.current_;
  // The next run's shim, made while this one runs (a failed start used
  // its spare too).
  if (!st.cfg_.runs_dir.empty())
    make_spare_shim(self);
  if (msg.error) {
    test_runner_state::close_unrun(run.rec, run_state::failed,
      message_of(msg.error));
    run.failure = std::move(msg.error);
    finish(self, true);
    return;
  }
  ++st.started_;
  test_runner_state::apply_start(run.rec, msg);
  publish_run(self);
  tell_slot(self, atom::update_v, run.rec.run_id,
    test_runner_state::start_fields(run.rec));
  if (run.start_promise)
    run.start_promise->deliver(run.rec);
  run.start_promise.reset();
}

void on_ended(runner_self self, run_ended& msg) {
  auto& st = self->state;
  if (!st.current_ || st.current_->rec.run_id != msg.run_id)
    return;
  // Left running in its shim: its directory is for the next daemon.
  if (msg.stopped_by == "abandoned")
    st.current_->dir.clear();
  test_runner_state::apply_end(st.current_->rec, msg);
  finish(self, true);
}

void on_watcher_down(runner_self self, const caf::error& reason) {
  auto& run = *self->state.current_;
  auto why = "run watcher died: " + render(reason);
  if (run.rec.pid == 0) {
    run_started failed;
    failed.run_id = run.rec.run_id;
    failed.error = make_error(errc::spawn_failed, why);
    on_started(self, failed);
    return;
  }
  run_ended end;
  end.run_id = run.rec.run_id;
  end.error = std::move(why);
  on_ended(self, end);
}

void tell_watcher(runner_self self, const std::string& by, int64_t grace_ms) {
  auto& run = *self->state.current_;
  if (run.rec.state == run_state::starting
      || run.rec.state == run_state::running)
    run.rec.state = run_state::stopping;
  if (!run.watcher)
    return; // Still reserving: launch() sees the stop.
  if (run.rec.pid != 0)
    publish_run(self);
  self->send(run.watcher, atom::stop_v, by, grace_ms);
  run.chan->wake.notify();
}

void start_next(runner_self self) {
  auto& st = self->state;
  if (!st.current_ && !st.queue_.empty() && !st.shutting_down_) {
    auto [rec, spec] = std::move(st.queue_.front());
    st.queue_.pop_front();
    reserve(self, std::move(rec), std::move(spec), std::nullopt);
  }
  publish_queue(self);
}

void queue_run(runner_self self, run_record rec, run_spec spec,
               test_runner_state::promise rp) {
  auto& st = self->state;
  if (st.shutting_down_) {
    if (st.db_ && !st.cfg_.stop_on_shutdown) {
      rp.deliver(std::move(rec)); // Committed: the next daemon runs it.
      return;
    }
    rec.state = run_state::cancelled;
    rec.error = "the runtime shut down";
    save_run(self, rec);
    st.remember(std::move(rec));
    rp.deliver(make_error(errc::shutting_down, "the runner is stopping"));
    return;
  }
  auto id = rec.run_id;
  auto result = rec;
  st.queue_.emplace_back(std::move(rec), std::move(spec));
  start_next(self);
  if (st.current_ && st.current_->rec.run_id == id)
    result = st.current_->rec;
  rp.deliver(std::move(result));
}

void on_exit_request(runner_self self, caf::exit_msg& msg) {
  auto& st = self->state;
  if (st.shutting_down_)
    return;
  st.shutting_down_ = true;
  st.exit_reason_ = msg.reason;
  drop_spare_shim(self);
  // Runs left alive and a database: the queue waits there for the next
  // daemon, as after a crash.
  bool kept = st.db_ && !st.cfg_.stop_on_shutdown;
  while (!st.queue_.empty()) {
    auto rec = std::move(st.queue_.front().first);
    st.queue_.pop_front();
    if (kept)
      continue;
    rec.state = run_state::cancelled;
    rec.error = "the runtime shut down";
    save_run(self, rec);
    st.remember(std::move(rec));
  }
  publish_queue(self);
  if (!st.current_) {
    quit_if_done(self);
    return;
  }
  auto& run = *st.current_;
  if (!run.watcher)
    return; // Still reserving: launch() sees shutting_down_.
  if (st.cfg_.stop_on_shutdown) {
    tell_watcher(self, "shutdown", st.cfg_.grace_ms);
  } else {
    self->send(run.watcher, atom::abandon_v);
    run.chan->wake.notify();
  }
}

void quit_if_done(runner_self self) {
  auto& st = self->state;
  if (st.shutting_down_ && !st.current_ && st.ends_unsaved_ == 0)
    self->quit(st.exit_reason_);
}

} // namespace labrt
