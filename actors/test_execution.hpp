// The test-execution manager actor, successor of TestExecutionManager.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "src/change_log.hpp"
#include "actors/feed.hpp"
#include "labrt/config.hpp"
#include "labrt/interfaces.hpp"

namespace labrt {

/// test_execution as the runtime spawns it: the public interface plus the
/// runner's writes. Those name the run that holds the slot, so a late one
/// never touches a slot somebody else took meanwhile (reset, start_test).
using test_execution_internal_actor = test_execution_actor::extend<
  /// Sets fields of run `id` while it holds the slot (its pid after exec).
  caf::replies_to<atom::update, std::string, json>::with<json>,
  /// Frees the slot if run `id` holds it: its end fields, running false, pid null.
  caf::replies_to<atom::release, std::string, json>::with<json>,
  /// A waiting start's time is up (sent to itself).
  caf::reacts_to<atom::expire, uint64_t>>;

/// State of the test-execution manager: one JSON object with the fields of
/// the old module (running, script, pid, bin, topology, topology_file,
/// start_time) plus whatever extra fields a runner records (run_id, args, ...).
///
/// Unlike the old module, a start while a test runs is refused: the check and
/// the write happen in one message, so two callers can never both start.
struct test_execution_state {
  static inline const char* name = "labrt.test_execution";

  /// The state after `reset`: every field null, running false.
  static json initial();

  test_execution_state();

  bool is_running();
  json get(const std::string& field);
  json state();

  /// Records a start; `extra` is an object of further fields (bin, topology, ...).
  caf::expected<json> start(const std::string& script, const json& pid,
                            const json& extra);

  /// running false, pid null, the rest kept. A no-op when nothing runs.
  json stop();

  /// Every field back to null, running false; extra fields removed.
  json reset();

  /// Sets some fields, all or none.
  caf::expected<json> update(const json& fields);

  /// A start that waits for the slot to be free.
  struct waiting_start {
    uint64_t id;
    std::string script;
    json pid;
    json extra;
    caf::response_promise rp;
  };

  /// An answer to deliver to a waiting start.
  using reply = std::pair<caf::response_promise, caf::expected<json>>;

  /// Queues a start until the slot is free; returns its id, for its expiry.
  uint64_t wait_for_slot(std::string script, json pid, json extra,
                         caf::response_promise rp);

  /// The waiting starts the slot admits now, oldest first (the first that
  /// succeeds takes the slot; one that is invalid fails and the next tries).
  std::vector<reply> admit_waiting();

  /// Gives up on waiting start `id` if it still waits: its refusal.
  std::optional<reply> expire(uint64_t id);

  /// Sets some fields if run `id` holds the slot; errc::not_running if not.
  caf::expected<json> update_run(const std::string& id, const json& fields);

  /// The end of run `id`: its end fields, running false, pid null; a no-op
  /// unless it holds the slot.
  caf::expected<json> release(const std::string& id, const json& fields);

  limits bounds_;
  json state_;
  change_log log_{"test"};
  feed feed_;
  std::deque<waiting_start> waiting_;
  uint64_t next_wait_id_ = 1;

private:
  caf::error check(const std::string& field, const json& value);
  bool holds(const std::string& run_id) const;
  caf::error refuse(caf::error err);
  /// Replaces the state, appending one change per field that differs.
  void assign(json next);
};

test_execution_internal_actor::behavior_type test_execution(
  test_execution_internal_actor::stateful_pointer<test_execution_state> self,
  limits bounds, size_t history);

} // namespace labrt
