#include "test_runner.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <filesystem>
#include <random>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/send.hpp>

#include "../src/script_path.hpp"
#include "../src/sys_util.hpp"
#include "labrt/errc.hpp"

namespace labrt {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using self_ptr = test_runner_actor::stateful_pointer<test_runner_state>;

json text_or_null(const std::string& s) {
  return s.empty() ? json{} : json(s);
}

int64_t ms_between(caf::timestamp a, caf::timestamp b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

// -- the watcher: a detached (blocking) actor per run -------------------------

void run_watcher(caf::blocking_actor* self, test_runner_actor runner,
  watch_job job, std::shared_ptr<run_channel> chan) {
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
        [&](atom::cancel) { watch.abandon(); },
        caf::after(std::chrono::milliseconds{0}) >> [&] { more = false; });
  };
  auto result = watch.run(std::move(hooks));
  if (result)
    self->send(runner, std::move(*result));
  else
    self->send(
      runner, run_started{id, 0, 0, std::move(result.error()), {}, {}});
  // `chan` stays open until here: the runner may still write to it.
  chan.reset();
}

// -- actor steps
// ----------------------------------------------------------------

void start_next(self_ptr self);
void send_batch(self_ptr self, const caf::actor_addr& addr,
  test_runner_state::output_sub& sub, output_batch batch);

void launch(self_ptr self, run_record rec, run_spec spec,
  std::optional<test_runner_state::promise> rp) {
  auto& st = self->state;
  auto chan = run_channel::make();
  if (!chan) {
    test_runner_state::close_failed(rec, render(chan.error()));
    ++st.failed_;
    if (rp)
      rp->deliver(chan.error());
    st.remember(std::move(rec));
    return;
  }
  rec.state = run_state::starting;
  auto job = st.make_job(rec, spec);
  job.wake_fd = (*chan)->wake.get();
  job.credit_fd = (*chan)->credit.get();
  auto watcher = self->spawn<caf::detached>(run_watcher,
    caf::actor_cast<test_runner_actor>(self), std::move(job), *chan);
  self->monitor(watcher);
  test_runner_state::active run;
  run.rec = std::move(rec);
  run.spec = std::move(spec);
  run.watcher = caf::actor_cast<run_watcher_actor>(watcher);
  run.chan = std::move(*chan);
  run.start_promise = std::move(rp);
  st.current_ = std::move(run);
}

void tell_watcher(self_ptr self, const std::string& by, int64_t grace_ms) {
  auto& run = *self->state.current_;
  if (run.rec.state == run_state::starting
    || run.rec.state == run_state::running)
    run.rec.state = run_state::stopping;
  self->send(run.watcher, atom::stop_v, by, grace_ms);
  run.chan->notify_wake();
}

/// The run's end is recorded everywhere: history, promises, next run.
void finish(self_ptr self) {
  auto& st = self->state;
  auto run = std::move(*st.current_);
  st.current_.reset();
  if (!run.rec.stopped_by.empty())
    ++st.stopped_;
  if (run.rec.timed_out)
    ++st.timed_out_;
  if (run.start_promise && run.start_promise->pending()) {
    if (run.rec.state == run_state::failed)
      run.start_promise->deliver(make_error(errc::spawn_failed, run.rec.error));
    else
      run.start_promise->deliver(run.rec);
  }
  for (auto& rp : run.stop_promises)
    rp.deliver(run.rec);
  // Lines a subscriber missed at the end count for this run, not the next.
  for (auto& [addr, sub] : st.subs_)
    if (sub.dropped > 0)
      send_batch(self, addr, sub, output_batch{run.rec.run_id, {}, 0});
  st.remember(std::move(run.rec));
  if (st.shutting_down_) {
    self->quit(st.exit_reason_);
    return;
  }
  start_next(self);
}

/// The end shows everywhere at once: the record turns finished, waiters
/// are answered and the slot is free for a new start in this one step, and
/// only then is test_execution told, so no view shows the end while a start
/// would be refused. The next run's start reaches test_execution after these
/// (one sender's messages keep their order).
void record_end(self_ptr self) {
  auto& st = self->state;
  auto& run = *st.current_;
  test_runner_state::apply_end(run.rec, *run.end);
  run.rec.ended_at = caf::make_timestamp();
  run.rec.duration_ms = ms_between(run.rec.started_at, run.rec.ended_at);
  if (run.recorded) {
    auto note = [self, id = run.rec.run_id](caf::error& err) {
      for (auto& rec : self->state.history_)
        if (rec.run_id == id && rec.error.empty())
          rec.error = "test_execution: " + render(err);
    };
    self
      ->request(st.tests_, 10s, atom::update_v,
        test_runner_state::end_fields(run.rec))
      .then([](json&) {}, note);
    self->request(st.tests_, 10s, atom::stop_v).then([](json&) {}, note);
  }
  finish(self);
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
void forward_output(self_ptr self, output_batch& batch) {
  auto& st = self->state;
  if (st.current_ && st.current_->rec.run_id == batch.run_id)
    st.current_->chan->add_credit();
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

/// Output of a run test_execution has not recorded yet waits: subscribers
/// learn a run's id from test_execution's change events, so the id must
/// reach them before the run's lines do.
void on_output(self_ptr self, output_batch& batch) {
  auto& st = self->state;
  if (st.current_ && st.current_->rec.run_id == batch.run_id
      && st.current_->start_pending) {
    st.current_->held.push_back(std::move(batch));
    return;
  }
  forward_output(self, batch);
}

/// Sends what on_output held back, now that test_execution answered, as one
/// batch: a subscriber's cap counts batches in flight, and a fast run can
/// have filled it while held (the watcher's credit plus its final flush).
void release_output(self_ptr self) {
  auto held = std::exchange(self->state.current_->held, {});
  if (held.empty())
    return;
  auto merged = std::move(held.front());
  for (size_t i = 1; i < held.size(); ++i) {
    auto& lines = held[i].lines;
    merged.lines.insert(merged.lines.end(),
      std::make_move_iterator(lines.begin()),
      std::make_move_iterator(lines.end()));
    merged.dropped += held[i].dropped;
    self->state.current_->chan->add_credit(); // forward_output credits one.
  }
  forward_output(self, merged);
}

void on_started(self_ptr self, run_started& msg) {
  auto& st = self->state;
  if (!st.current_ || st.current_->rec.run_id != msg.run_id)
    return;
  auto& run = *st.current_;
  if (msg.error) {
    // Nothing runs; test_execution never heard of it.
    ++st.failed_;
    test_runner_state::close_failed(run.rec, message_of(msg.error));
    if (run.start_promise)
      run.start_promise->deliver(std::move(msg.error));
    run.start_promise.reset();
    finish(self);
    return;
  }
  ++st.started_;
  run.rec.pid = msg.pid;
  run.rec.pgid = msg.pgid;
  run.rec.started_at = msg.at;
  if (!msg.path.empty())
    run.rec.path = std::move(msg.path); // what runs, checked at the spawn
  if (run.rec.state == run_state::starting)
    run.rec.state = run_state::running;
  run.start_pending = true;
  auto id = run.rec.run_id;
  self
    ->request(st.tests_, 10s, atom::start_v, run.rec.path, json(msg.pid),
      test_runner_state::start_fields(run.rec))
    .then(
      [self, id](json&) {
        auto& cur = self->state.current_;
        if (!cur || cur->rec.run_id != id)
          return;
        cur->start_pending = false;
        cur->recorded = true;
        release_output(self);
        if (cur->start_promise)
          cur->start_promise->deliver(cur->rec);
        cur->start_promise.reset();
        if (cur->end)
          record_end(self);
      },
      [self, id](caf::error& err) {
        // Somebody else holds test_execution (start_test of the old API):
        // this run must not go on unrecorded.
        auto& cur = self->state.current_;
        if (!cur || cur->rec.run_id != id)
          return;
        cur->start_pending = false;
        release_output(self);
        cur->rec.error = "test_execution refused the run: " + render(err);
        if (cur->start_promise)
          cur->start_promise->deliver(err);
        cur->start_promise.reset();
        if (cur->end)
          record_end(self);
        else
          tell_watcher(self, "refused", 0);
      });
}

void on_ended(self_ptr self, run_ended& msg) {
  auto& st = self->state;
  if (!st.current_ || st.current_->rec.run_id != msg.run_id)
    return;
  auto& run = *st.current_;
  run.end = std::move(msg);
  // Until test_execution has answered the start, nothing shows the end.
  if (!run.start_pending)
    record_end(self);
}

/// Tells the subscribers the queue if it changed.
void publish_queue(self_ptr self) {
  auto& st = self->state;
  if (auto update = st.queue_changed())
    for (auto& [addr, sub] : st.subs_)
      self->send(sub.sink, *update);
}

void start_next(self_ptr self) {
  auto& st = self->state;
  while (!st.current_ && !st.queue_.empty() && !st.shutting_down_) {
    auto [rec, spec] = std::move(st.queue_.front());
    st.queue_.pop_front();
    launch(self, std::move(rec), std::move(spec), std::nullopt);
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
    st.remember(std::move(rec));
  }
  publish_queue(self);
  if (!st.current_) {
    self->quit(msg.reason);
    return;
  }
  if (st.cfg_.stop_on_shutdown) {
    tell_watcher(self, "shutdown", st.cfg_.grace_ms);
  } else {
    self->send(st.current_->watcher, atom::cancel_v);
    st.current_->chan->notify_wake();
  }
}

} // namespace

// -- run_channel
// ----------------------------------------------------------------

caf::expected<std::shared_ptr<run_channel>> run_channel::make() {
  auto result = std::make_shared<run_channel>();
  result->wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  result->credit.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!result->wake || !result->credit)
    return system_error("runner: eventfd", errno);
  return result;
}

void run_channel::notify_wake() const noexcept {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake.get(), &one, sizeof(one));
}

void run_channel::add_credit() const noexcept {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(credit.get(), &one, sizeof(one));
}

// -- state
// ----------------------------------------------------------------------

test_runner_state::~test_runner_state() {
  // Killed without an exit handler run (exit_reason::kill): the watcher
  // must not outlive the system waiting for a child.
  if (current_ && current_->watcher) {
    caf::anon_send(current_->watcher, atom::cancel_v);
    current_->chan->notify_wake();
  }
}

caf::error test_runner_state::busy_error() const {
  auto& rec = current_->rec;
  std::string text = "run " + rec.run_id + " ('" + rec.script + "'";
  if (rec.pid != 0)
    text += ", pid " + std::to_string(rec.pid);
  text += ") is " + std::string{to_string(rec.state)};
  if (rec.started_at.time_since_epoch().count() != 0)
    text += ", started at " + to_iso8601(rec.started_at);
  return make_error(errc::already_running, std::move(text));
}

std::string test_runner_state::next_run_id() {
  auto now = caf::make_timestamp();
  auto iso = to_iso8601(now); // 2026-11-27T20:42:35.123Z
  std::string compact;
  for (char c : iso)
    if (std::isdigit(static_cast<unsigned char>(c)))
      compact += c;
  compact.insert(8, "-");
  return compact + "-" + std::to_string(++seq_);
}

caf::expected<run_record> test_runner_state::admit(const run_spec& spec) {
  auto refuse = [this](caf::error err) -> caf::expected<run_record> {
    ++refused_;
    return err;
  };
  if (shutting_down_)
    return refuse(make_error(errc::shutting_down, "the runner is stopping"));
  if (spec.script.empty())
    return refuse(make_error(errc::invalid_argument, "script is empty"));
  if (auto err = check_run_spec(spec))
    return refuse(std::move(err));
  auto path = resolve_script(cfg_.roots, spec.script);
  if (!path)
    return refuse(std::move(path.error()));
  run_record rec;
  rec.run_id = next_run_id();
  rec.state = run_state::queued;
  rec.script = spec.script;
  rec.path = *path;
  rec.args = spec.args;
  rec.bin = spec.bin;
  rec.topology = spec.topology;
  rec.topology_file = spec.topology_file;
  rec.cookie = cookie_base_ + "-" + rec.run_id;
  rec.enqueued_at = caf::make_timestamp();
  if (!spec.log.empty()) {
    rec.log = spec.log;
  } else if (!cfg_.logs_dir.empty()) {
    std::error_code ec;
    fs::create_directories(cfg_.logs_dir, ec);
    if (ec)
      return refuse(make_error(errc::system_error,
        "cannot create logs_dir '" + cfg_.logs_dir + "': " + ec.message()));
    rec.log = (fs::path{cfg_.logs_dir} / (rec.run_id + ".log")).string();
  }
  return rec;
}

watch_job test_runner_state::make_job(
  const run_record& rec, const run_spec& spec) const {
  watch_job job;
  job.run_id = rec.run_id;
  if (spec.use_shell)
    job.spec.argv = {"/bin/sh", rec.path};
  else
    job.spec.argv = {rec.path};
  // The watcher opens the script again and runs that very file.
  job.script = spec.script;
  job.roots = cfg_.roots;
  job.script_arg = spec.use_shell ? 1 : 0;
  job.spec.argv.insert(job.spec.argv.end(), spec.args.begin(), spec.args.end());
  job.spec.cwd = spec.cwd;
  job.spec.env = spec.env;
  job.spec.env["LABRT_RUN_ID"] = rec.run_id;
  job.spec.inherit_env = cfg_.inherit_env;
  job.spec.cookie = rec.cookie;
  job.log_path = rec.log;
  job.log_max_bytes = cfg_.log_max_bytes;
  auto timeout = spec.timeout_ms >= 0 ? spec.timeout_ms : cfg_.timeout_ms;
  job.timeout = std::chrono::milliseconds{timeout};
  job.grace = std::chrono::milliseconds{cfg_.grace_ms};
  return job;
}

json test_runner_state::start_fields(const run_record& rec) {
  return {{"run_id", rec.run_id}, {"args", rec.args}, {"pgid", rec.pgid},
    {"bin", text_or_null(rec.bin)}, {"topology", text_or_null(rec.topology)},
    {"topology_file", text_or_null(rec.topology_file)},
    {"started_at", to_iso8601(rec.started_at)}, {"log", text_or_null(rec.log)},
    // The end fields of an earlier run must not linger.
    {"exit_code", nullptr}, {"signal", nullptr}, {"duration_ms", nullptr},
    {"ended_at", nullptr}, {"timed_out", nullptr}, {"stopped_by", nullptr}};
}

json test_runner_state::end_fields(const run_record& rec) {
  json j = rec;
  return {{"exit_code", j["exit_code"]}, {"signal", j["signal"]},
    {"duration_ms", rec.duration_ms}, {"ended_at", j["ended_at"]},
    {"timed_out", rec.timed_out}, {"stopped_by", j["stopped_by"]},
    {"log", j["log"]}, {"leftovers", rec.leftovers}};
}

void test_runner_state::close_failed(run_record& rec, std::string why) {
  rec.state = run_state::failed;
  rec.error = std::move(why);
  rec.ended_at = caf::make_timestamp();
}

void test_runner_state::apply_end(run_record& rec, const run_ended& end) {
  rec.state = run_state::finished;
  rec.exit_code = end.exit_code;
  rec.signal = end.signal;
  rec.signal_name = end.signal_name;
  rec.core_dumped = end.core_dumped;
  rec.timed_out = end.timed_out;
  if (rec.stopped_by.empty())
    rec.stopped_by = end.stopped_by;
  rec.leftovers = end.leftovers;
  rec.out_bytes = end.out_bytes;
  rec.err_bytes = end.err_bytes;
  rec.log_cut_bytes = end.log_cut_bytes;
  rec.lines_dropped = end.lines_dropped;
  if (!end.error.empty()) {
    if (!rec.error.empty())
      rec.error += "; ";
    rec.error += end.error;
  }
}

caf::expected<run_record> test_runner_state::cancel(const std::string& id) {
  for (auto i = queue_.begin(); i != queue_.end(); ++i) {
    if (i->first.run_id != id)
      continue;
    auto rec = std::move(i->first);
    queue_.erase(i);
    rec.state = run_state::cancelled;
    remember(rec);
    return rec;
  }
  if (current_ && current_->rec.run_id == id)
    return make_error(errc::invalid_argument,
      "run " + id + " is " + to_string(current_->rec.state)
        + ", not queued: stop it instead");
  return make_error(errc::not_found, "no queued run '" + id + "'");
}

caf::expected<run_record> test_runner_state::find(const std::string& id) const {
  if (current_ && current_->rec.run_id == id)
    return current_->rec;
  for (auto& [rec, spec] : queue_)
    if (rec.run_id == id)
      return rec;
  for (auto& rec : history_)
    if (rec.run_id == id)
      return rec;
  return make_error(errc::not_found, "no run '" + id + "'");
}

std::vector<run_record> test_runner_state::history(uint64_t n) const {
  std::vector<run_record> result;
  for (auto i = history_.rbegin(); i != history_.rend() && result.size() < n;
       ++i)
    result.push_back(*i);
  return result;
}

size_t test_runner_state::queue_bytes() const {
  size_t n = 0;
  for (auto& [rec, spec] : queue_)
    n += run_footprint(rec) + run_footprint(spec);
  return n;
}

std::vector<run_record> test_runner_state::queued() const {
  std::vector<run_record> result;
  for (auto& [rec, spec] : queue_)
    result.push_back(rec);
  return result;
}

std::optional<queue_update> test_runner_state::queue_changed() {
  std::vector<std::string> ids;
  ids.reserve(queue_.size());
  for (auto& entry : queue_)
    ids.push_back(entry.first.run_id);
  if (ids == queue_seen_)
    return std::nullopt;
  queue_seen_ = std::move(ids);
  return queue_update{queued()};
}

void test_runner_state::remember(run_record rec) {
  if (auto i = waiters_.find(rec.run_id); i != waiters_.end()) {
    for (auto& rp : i->second)
      rp.deliver(rec);
    waiters_.erase(i);
  }
  history_bytes_ += run_footprint(rec);
  history_.push_back(std::move(rec));
  // The newest record stays even if it alone is over the bytes.
  while (history_.size() > 1
    && (history_.size() > cfg_.history_capacity
      || history_bytes_ > run_limits::max_history_bytes)) {
    history_bytes_ -= run_footprint(history_.front());
    history_.pop_front();
  }
}

json test_runner_state::metrics() const {
  return {{"running", current_.has_value()}, {"queued", queue_.size()},
    {"started", started_}, {"failed", failed_}, {"refused", refused_},
    {"stopped", stopped_}, {"timed_out", timed_out_}, {"batches", batches_},
    {"lines", lines_}, {"lines_dropped", lines_dropped_},
    {"subscribers", subs_.size()}, {"history", history_.size()}};
}

// -- actor
// ----------------------------------------------------------------------

test_runner_actor::behavior_type test_runner(
  test_runner_actor::stateful_pointer<test_runner_state> self,
  runner_config cfg, test_execution_actor tests) {
  auto& st = self->state;
  st.cfg_ = std::move(cfg);
  st.tests_ = std::move(tests);
  std::random_device rd;
  st.cookie_base_ = "labrt-" + std::to_string(::getpid()) + "-"
    + std::to_string(rd()) + std::to_string(rd());
  self->set_exit_handler(
    [self](caf::exit_msg& msg) { on_exit_request(self, msg); });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& s = self->state;
    s.subs_.erase(msg.source);
    if (s.current_ && s.current_->watcher.address() == msg.source
      && !s.current_->end && !s.current_->start_pending) {
      // The watcher died without reporting an end: never hang the queue.
      s.current_->rec.error = "run watcher died: " + render(msg.reason);
      run_ended end;
      end.run_id = s.current_->rec.run_id;
      on_ended(self, end);
    }
  });
  return {
    [self](atom::start, run_spec& spec) {
      auto& s = self->state;
      auto rp = self->make_response_promise<run_record>();
      if (s.current_) {
        ++s.refused_;
        rp.deliver(s.busy_error());
        return rp;
      }
      auto rec = s.admit(spec);
      if (!rec) {
        rp.deliver(std::move(rec.error()));
        return rp;
      }
      launch(self, std::move(*rec), std::move(spec), rp);
      return rp;
    },
    [self](atom::stop, const std::string& id, std::string& by) {
      auto& s = self->state;
      auto rp = self->make_response_promise<run_record>();
      if (!s.current_ || (!id.empty() && id != s.current_->rec.run_id)) {
        auto known = s.find(id);
        if (!id.empty() && known && known->state == run_state::queued)
          rp.deliver(make_error(
            errc::invalid_argument, "run " + id + " is queued: cancel it"));
        else
          rp.deliver(make_error(errc::not_running,
            id.empty() ? "no run is in progress"
                       : "run " + id + " is not running"));
        return rp;
      }
      s.current_->stop_promises.push_back(rp);
      if (s.current_->rec.state != run_state::stopping)
        tell_watcher(self, by.empty() ? "request" : by, s.cfg_.grace_ms);
      return rp;
    },
    [self](atom::get) -> caf::result<run_record> {
      auto& s = self->state;
      if (!s.current_)
        return make_error(errc::not_running, "no run is in progress");
      return s.current_->rec;
    },
    [self](atom::get, const std::string& id) -> caf::result<run_record> {
      auto rec = self->state.find(id);
      if (!rec)
        return std::move(rec.error());
      return std::move(*rec);
    },
    [self](atom::wait, const std::string& id) {
      auto& s = self->state;
      auto rp = self->make_response_promise<run_record>();
      auto rec = s.find(id);
      // The current run answers only once its end is recorded everywhere
      // (remember() delivers), even if its record already reads finished.
      bool current = s.current_ && s.current_->rec.run_id == id;
      if (!rec)
        rp.deliver(std::move(rec.error()));
      else if (!current && rec->state != run_state::queued)
        rp.deliver(std::move(*rec));
      else
        s.waiters_[id].push_back(rp);
      return rp;
    },
    [self](atom::enqueue, run_spec& spec) -> caf::result<run_record> {
      auto& s = self->state;
      if (s.queue_.size() >= s.cfg_.queue_capacity)
        return make_error(errc::invalid_argument,
          "the queue is full (" + std::to_string(s.cfg_.queue_capacity)
            + " runs)");
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
    },
    [self](atom::list) { return self->state.queued(); },
    [self](atom::cancel, const std::string& id) -> caf::result<run_record> {
      auto rec = self->state.cancel(id);
      if (!rec)
        return std::move(rec.error());
      publish_queue(self);
      return std::move(*rec);
    },
    [self](atom::history, uint64_t n) { return self->state.history(n); },
    [self](atom::subscribe, run_output_actor& sink) {
      auto& s = self->state;
      self->monitor(sink);
      s.subs_[sink.address()] = test_runner_state::output_sub{sink, 0, 0};
      return s.current_ ? s.current_->rec.run_id : std::string{};
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
