// The runner's steps and behaviour; its bookkeeping is in
// test_runner_state.cpp, the watcher of a run in run_watcher.cpp.
#include "actors/test_runner.hpp"

#include <unistd.h>

#include <random>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "labrt/errc.hpp"

namespace labrt {

namespace {

using namespace std::chrono_literals;
using self_ptr = test_runner_internal_actor::stateful_pointer<test_runner_state>;

void start_next(self_ptr self);

/// Tells every subscriber the current run's record.
void publish_run(self_ptr self) {
  auto& st = self->state;
  save_run(self, st.current_->rec);
  for (auto& [addr, sub] : st.subs_)
    self->send(sub.sink, run_update{st.current_->rec});
}

/// Tells the subscribers the queue if it changed.
void publish_queue(self_ptr self) {
  auto& st = self->state;
  if (auto update = st.queue_changed())
    for (auto& [addr, sub] : st.subs_)
      self->send(sub.sink, *update);
}

/// Sends `batch` to one subscriber, with the lines it missed since its last.
void send_batch(self_ptr self, const caf::actor_addr& addr,
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

/// Sends a batch to every subscriber that has room for it.
void on_output(self_ptr self, output_batch& batch) {
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

/// Writes to test_execution in the current run's name; a refusal (somebody
/// took the slot meanwhile through reset or start_test) is noted in the
/// run's record.
template <class... Ts>
void tell_slot(self_ptr self, Ts... xs) {
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
void finish(self_ptr self, bool holds_slot) {
  auto& st = self->state;
  auto& rec = st.current_->rec;
  st.count_end(rec);
  for (auto& [addr, sub] : st.subs_)
    if (sub.dropped > 0)
      send_batch(self, addr, sub, output_batch{rec.run_id, {}, 0});
  publish_run(self);
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
  forget_run_dir(self, run.dir);
  if (st.shutting_down_) {
    self->quit(st.exit_reason_);
    return;
  }
  start_next(self);
}

/// The slot is ours: spawn the watcher, unless the run was stopped or the
/// runner told to quit meanwhile.
void launch(self_ptr self) {
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

/// A run takes the slot in test_execution; nothing is spawned before that.
void reserve(self_ptr self, run_record rec, run_spec spec,
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

void on_started(self_ptr self, run_started& msg) {
  auto& st = self->state;
  if (!st.current_ || st.current_->rec.run_id != msg.run_id)
    return;
  auto& run = *st.current_;
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

void on_ended(self_ptr self, run_ended& msg) {
  auto& st = self->state;
  if (!st.current_ || st.current_->rec.run_id != msg.run_id)
    return;
  // Left running in its shim: its directory is for the next daemon.
  if (msg.stopped_by == "abandoned")
    st.current_->dir.clear();
  test_runner_state::apply_end(st.current_->rec, msg);
  finish(self, true);
}

/// The watcher died without reporting an end: never hang the run.
void on_watcher_down(self_ptr self, const caf::error& reason) {
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

void tell_watcher(self_ptr self, const std::string& by, int64_t grace_ms) {
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

void start_next(self_ptr self) {
  auto& st = self->state;
  if (!st.current_ && !st.queue_.empty() && !st.shutting_down_) {
    auto [rec, spec] = std::move(st.queue_.front());
    st.queue_.pop_front();
    reserve(self, std::move(rec), std::move(spec), std::nullopt);
  }
  publish_queue(self);
}

void on_exit_request(self_ptr self, caf::exit_msg& msg) {
  auto& st = self->state;
  if (st.shutting_down_)
    return;
  st.shutting_down_ = true;
  st.exit_reason_ = msg.reason;
  while (!st.queue_.empty()) {
    auto rec = std::move(st.queue_.front().first);
    st.queue_.pop_front();
    rec.state = run_state::cancelled;
    rec.error = "the runtime shut down";
    save_run(self, rec);
    st.remember(std::move(rec));
  }
  publish_queue(self);
  if (!st.current_) {
    self->quit(msg.reason);
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

caf::result<run_record> stop(self_ptr self, const std::string& id,
  const std::string& by) {
  auto& s = self->state;
  if (!s.current_ || (!id.empty() && id != s.current_->rec.run_id)) {
    auto known = s.find(id);
    if (!id.empty() && known && known->state == run_state::queued)
      return make_error(errc::invalid_argument,
        "run " + id + " is queued: cancel it");
    return make_error(errc::not_running,
      id.empty() ? "no run is in progress" : "run " + id + " is not running");
  }
  auto rp = self->make_response_promise<run_record>();
  s.current_->stop_promises.push_back(rp);
  if (s.current_->rec.state != run_state::stopping)
    tell_watcher(self, by.empty() ? "request" : by, s.cfg_.grace_ms);
  return rp;
}

caf::result<run_record> wait(self_ptr self, const std::string& id) {
  auto& s = self->state;
  auto rec = s.find(id);
  if (!rec)
    return std::move(rec.error());
  // The current run answers only once its end is recorded everywhere
  // (remember() delivers).
  bool current = s.current_ && s.current_->rec.run_id == id;
  if (!current && rec->state != run_state::queued)
    return std::move(*rec);
  auto rp = self->make_response_promise<run_record>();
  s.waiters_[id].push_back(rp);
  return rp;
}

caf::result<run_record> start(self_ptr self, run_spec& spec) {
  auto& s = self->state;
  if (s.current_) {
    ++s.refused_;
    return s.busy_error();
  }
  auto rec = s.admit(spec);
  if (!rec)
    return std::move(rec.error());
  auto rp = self->make_response_promise<run_record>();
  reserve(self, std::move(*rec), std::move(spec), rp);
  return rp;
}

caf::result<run_record> enqueue(self_ptr self, run_spec& spec) {
  auto& s = self->state;
  if (s.queue_.size() >= s.cfg_.queue_capacity)
    return make_error(errc::invalid_argument,
      "the queue is full (" + std::to_string(s.cfg_.queue_capacity) + " runs)");
  if (s.queue_bytes() + run_footprint(spec) > run_limits::max_queue_bytes)
    return make_error(errc::invalid_argument,
      "the queue is full (its runs hold "
        + std::to_string(run_limits::max_queue_bytes) + " bytes)");
  auto rec = s.admit(spec);
  if (!rec)
    return std::move(rec.error());
  auto result = *rec;
  s.queue_.emplace_back(std::move(*rec), std::move(spec));
  start_next(self);
  if (s.current_ && s.current_->rec.run_id == result.run_id)
    result = s.current_->rec;
  return result;
}

caf::result<run_record> cancel(self_ptr self, const std::string& id) {
  auto rec = self->state.cancel(id);
  if (!rec)
    return std::move(rec.error());
  save_run(self, *rec);
  publish_queue(self);
  return std::move(*rec);
}

std::string subscribe(self_ptr self, run_output_actor& sink) {
  auto& s = self->state;
  self->monitor(sink);
  s.subs_[sink.address()] = test_runner_state::output_sub{sink, 0, 0};
  return s.current_ ? s.current_->rec.run_id : std::string{};
}

caf::result<run_record> current(self_ptr self) {
  auto& s = self->state;
  if (!s.current_)
    return make_error(errc::not_running, "no run is in progress");
  return s.current_->rec;
}

} // namespace

test_runner_internal_actor::behavior_type
test_runner(test_runner_internal_actor::stateful_pointer<test_runner_state> self,
            runner_config cfg, test_execution_internal_actor tests) {
  auto& st = self->state;
  st.cfg_ = std::move(cfg);
  st.tests_ = std::move(tests);
  std::random_device rd;
  st.cookie_base_ = "labrt-" + std::to_string(::getpid()) + "-"
                    + std::to_string(rd()) + std::to_string(rd());
  self->set_exit_handler(
    [self](caf::exit_msg& msg) { on_exit_request(self, msg); });
  if (!st.cfg_.runs_dir.empty())
    adopt_left_runs(self);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& s = self->state;
    s.subs_.erase(msg.source);
    if (s.current_ && s.current_->watcher
        && s.current_->watcher.address() == msg.source)
      on_watcher_down(self, msg.reason);
  });
  return {
    [self](atom::start, run_spec& spec) { return start(self, spec); },
    [self](atom::stop, const std::string& id, const std::string& by) {
      return stop(self, id, by);
    },
    [self](atom::get) { return current(self); },
    [self](atom::get, const std::string& id) { return find_run(self, id); },
    [self](atom::wait, const std::string& id) { return wait(self, id); },
    [self](atom::enqueue, run_spec& spec) { return enqueue(self, spec); },
    [self](atom::list) { return self->state.queued(); },
    [self](atom::cancel, const std::string& id) { return cancel(self, id); },
    [self](atom::history, uint64_t n) {
      history_query q;
      q.limit = n;
      return query_history(self, q);
    },
    [self](atom::history, const history_query& q) {
      return query_history(self, q);
    },
    [self](atom::subscribe, run_output_actor& sink) {
      return subscribe(self, sink);
    },
    [self](atom::unsubscribe, const run_output_actor& sink) {
      self->state.subs_.erase(sink.address());
    },
    [self](atom::metrics) { return self->state.metrics(); },
    [self](run_started& msg) { on_started(self, msg); },
    [self](run_ended& msg) { on_ended(self, msg); },
    [self](output_batch& batch) { on_output(self, batch); },
  };
}

} // namespace labrt
