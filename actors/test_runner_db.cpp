// The test runner's side of the database: records out, history in.
#include "actors/test_runner.hpp"

#include <chrono>

#include "labrt/errc.hpp"

namespace labrt {

using namespace std::chrono_literals;

void save_run(runner_self self, const run_record& rec) {
  // In the order sent, so a history query passed on later sees it.
  if (self->state.db_)
    self->request(self->state.db_, 30s, atom::commit_v, rec)
      .then([](bool) {}, [self](caf::error&) { ++self->state.unsaved_; });
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
                    test_execution_internal_actor tests, persistence_actor db) {
  self->state.db_ = std::move(db);
  return test_runner(self, std::move(cfg), std::move(tests));
}

} // namespace labrt
