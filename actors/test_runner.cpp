// The runner's requests and behaviour; a run's steps are in
// test_runner_run.cpp, its bookkeeping in test_runner_state.cpp, the watcher
// of a run in run_watcher.cpp.
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
using self_ptr = runner_self;

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

/// Admits `spec` once run_admission found its script (off the scheduler,
/// in the order asked): `then` gets the queued record and the spec, unless
/// the runner began to stop meanwhile; a refusal answers `rp`, as does
/// `then`. `queued` runs count towards the queue's bounds until then.
template <class F>
void admit(self_ptr self, run_spec spec, test_runner_state::promise rp,
           bool queued, F then) {
  auto& s = self->state;
  auto bytes = run_footprint(spec);
  if (queued)
    s.admitting(1, bytes);
  bool logs_there = spec.log.empty() && !s.cfg_.logs_dir.empty();
  auto script = spec.script;
  auto done = [self, queued, bytes] {
    if (queued)
      self->state.admitting(-1, bytes);
  };
  self->request(s.admission_, 60s, atom::get_v, std::move(script), logs_there)
    .then(
      [self, spec = std::move(spec), rp, then, done](std::string& path) mutable {
        auto& st = self->state;
        if (auto err = st.check(spec)) { // The runner began to stop.
          done();
          rp.deliver(std::move(err));
          return;
        }
        auto rec = st.admit(spec, std::move(path));
        then(std::move(rec), std::move(spec), done);
      },
      [self, rp, done](caf::error& err) mutable {
        done();
        ++self->state.refused_;
        rp.deliver(std::move(err));
      });
}

caf::result<run_record> start(self_ptr self, run_spec& spec) {
  auto& s = self->state;
  if (s.current_) {
    ++s.refused_;
    return s.busy_error();
  }
  if (auto err = s.check(spec))
    return err;
  auto rp = self->make_response_promise<run_record>();
  admit(self, std::move(spec), rp, false,
        [self, rp](run_record rec, run_spec admitted, auto&&) mutable {
          auto& st = self->state;
          if (st.current_) { // Another start or the queue came first.
            ++st.refused_;
            rp.deliver(st.busy_error());
            return;
          }
          reserve(self, std::move(rec), std::move(admitted), rp);
        });
  return rp;
}

caf::result<run_record> enqueue(self_ptr self, run_spec& spec) {
  auto& s = self->state;
  if (auto err = s.queue_room(spec))
    return err;
  if (auto err = s.check(spec))
    return err;
  auto rp = self->make_response_promise<run_record>();
  admit(self, std::move(spec), rp, true,
        [self, rp](run_record rec, run_spec admitted, auto done) {
          keep_queued(self, std::move(rec), std::move(admitted), rp,
                      std::move(done));
        });
  return rp;
}

caf::result<run_record> cancel(self_ptr self, const std::string& id) {
  auto rec = self->state.cancel(id);
  if (!rec)
    return std::move(rec.error());
  publish_queue(self);
  // Answered once the database dropped it: a cancelled run never returns.
  return commit_run(self, std::move(*rec));
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
  st.admission_ = self->spawn<caf::detached>(run_admission, st.cfg_.roots,
                                             st.cfg_.logs_dir);
  if (!st.cfg_.runs_dir.empty())
    adopt_left_runs(self); // Then restores the queue, makes a spare shim.
  else
    restore_queue(self);
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
    [self](spare_ready& msg) { keep_spare_shim(self, msg); },
  };
}

} // namespace labrt
