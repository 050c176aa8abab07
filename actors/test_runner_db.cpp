// The test runner's side of the database: records out, history in.
#include "actors/test_runner.hpp"

#include <chrono>

#include "labrt/errc.hpp"

namespace labrt {

using namespace std::chrono_literals;

void save_run(runner_self self, const run_record& rec, std::string done_dir) {
  auto& st = self->state;
  if (!st.db_) {
    forget_run_dir(self, done_dir);
    return;
  }
  // A run's directory is the only other copy of its end: it goes once the
  // database has the record, and stays for the next start if it has not.
  auto settled = [self, keeps_dir = !done_dir.empty()] {
    if (keeps_dir) {
      --self->state.ends_unsaved_;
      quit_if_done(self);
    }
  };
  if (!done_dir.empty())
    ++st.ends_unsaved_;
  // In the order sent, so a history query passed on later sees it.
  self->request(st.db_, 30s, atom::commit_v, rec)
    .then(
      [self, settled, dir = std::move(done_dir)](bool) {
        forget_run_dir(self, dir);
        settled();
      },
      [self, settled](caf::error&) {
        ++self->state.unsaved_;
        settled();
      });
}

caf::result<run_record> commit_run(runner_self self, run_record rec) {
  if (!self->state.db_)
    return rec;
  auto rp = self->make_response_promise<run_record>();
  self->request(self->state.db_, 30s, atom::commit_v, rec)
    .then([rp, rec](bool) mutable { rp.deliver(rec); },
          [self, rp, id = rec.run_id](caf::error& err) mutable {
            ++self->state.unsaved_;
            rp.deliver(make_error(errc::storage_failed,
              "run " + id + " is " + to_string(run_state::cancelled)
                + " but the database did not record it, so a restart may"
                  " bring it back: " + message_of(err)));
          });
  return rp;
}

void keep_queued(runner_self self, run_record rec, run_spec spec,
                 test_runner_state::promise rp, std::function<void()> done) {
  auto& st = self->state;
  if (!st.db_) {
    done();
    queue_run(self, std::move(rec), std::move(spec), std::move(rp));
    return;
  }
  // Acknowledged once committed; the database answers in the order asked,
  // so the queue keeps the order of the requests.
  self->request(st.db_, 30s, atom::enqueue_v, rec, spec)
    .then(
      [self, rec, spec, rp, done](bool) mutable {
        done();
        queue_run(self, std::move(rec), std::move(spec), std::move(rp));
      },
      [self, rp, done](caf::error& err) mutable {
        done();
        ++self->state.refused_;
        rp.deliver(std::move(err));
      });
}

void restore_queue(runner_self self) {
  auto& st = self->state;
  auto kept = std::move(st.restore_);
  st.restore_.clear();
  for (auto& entry : kept) {
    // Adopted or closed above: it started before the restart.
    if (st.find(entry.rec.run_id))
      continue;
    entry.rec.state = run_state::queued;
    st.queue_.emplace_back(std::move(entry.rec), std::move(entry.spec));
  }
  start_next(self);
}

caf::result<run_record> find_run(runner_self self, const std::string& id) {
  auto rec = self->state.find(id);
  if (!rec && self->state.db_ && code_of(rec.error()) == errc::not_found)
    return self->delegate(self->state.db_, atom::get_v, id);
  if (!rec)
    return std::move(rec.error());
  return std::move(*rec);
}

caf::result<std::vector<run_record>> query_history(runner_self self,
                                                   const history_query& q) {
  if (self->state.db_)
    return self->delegate(self->state.db_, atom::history_v, q);
  return self->state.history(q);
}

test_runner_internal_actor::behavior_type
durable_test_runner(runner_self self, runner_config cfg,
                    test_execution_internal_actor tests, persistence_actor db,
                    std::vector<queued_run> queue) {
  self->state.db_ = std::move(db);
  self->state.restore_ = std::move(queue);
  return test_runner(self, std::move(cfg), std::move(tests));
}

} // namespace labrt
