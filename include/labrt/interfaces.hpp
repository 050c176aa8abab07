// Every message interface of labrt, as typed actor handles.
//
// Each manager owns its state outright and is reached only through these
// messages: the mailbox serialises all access, so check-then-act sequences
// (get-then-set, is_running-then-start) run atomically inside the actor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "labrt/atoms.hpp"
#include "labrt/json.hpp"
#include "labrt/types.hpp"

namespace labrt {

/// Anything that receives change events.
using subscriber_actor = caf::typed_actor<
  /// One change, delivered in revision order without gaps.
  caf::reacts_to<change_event>>;

/// The change feed every manager offers: events, history, metrics.
using feed_actor = caf::typed_actor<
  /// Sends every change after revision `from` (replayed from history) and all later ones.
  caf::replies_to<atom::subscribe, subscriber_actor, uint64_t>::with<subscription>,
  /// Stops sending changes to a subscriber.
  caf::reacts_to<atom::unsubscribe, subscriber_actor>,
  /// The changes after a revision that the history ring still holds.
  caf::replies_to<atom::history, uint64_t>::with<std::vector<change_event>>,
  /// Reads, writes, refused operations, subscribers and revision as JSON.
  caf::replies_to<atom::metrics>::with<json>>;

/// The generic key/value store, successor of ThreadSafeDict.
using kv_store_actor = caf::typed_actor<
  /// The value of a key, or `default` if absent.
  caf::replies_to<atom::get, std::string, json>::with<json>,
  /// A key's value with its revision.
  caf::replies_to<atom::fetch, std::string>::with<kv_entry>,
  /// Sets a key; replies with the new revision.
  caf::replies_to<atom::set, std::string, json>::with<uint64_t>,
  /// Sets a key if its revision is `expected` (0: if absent); else a conflict.
  caf::replies_to<atom::set, std::string, json, uint64_t>::with<uint64_t>,
  /// Sets every key of a JSON object, all or none.
  caf::replies_to<atom::update, json>::with<uint64_t>,
  /// Removes a key; replies whether it existed.
  caf::replies_to<atom::erase, std::string>::with<bool>,
  /// Removes a key if its revision is `expected`; else a conflict.
  caf::replies_to<atom::erase, std::string, uint64_t>::with<bool>,
  /// Applies a merge patch or JSON Patch to one key atomically.
  caf::replies_to<atom::patch, std::string, json, patch_format>::with<kv_entry>,
  /// Whether a key exists.
  caf::replies_to<atom::contains, std::string>::with<bool>,
  /// The number of keys.
  caf::replies_to<atom::count>::with<uint64_t>,
  /// All keys, sorted.
  caf::replies_to<atom::list_keys>::with<std::vector<std::string>>,
  /// All values as a JSON array, in key order.
  caf::replies_to<atom::list_vals>::with<json>,
  /// All items as one JSON object (a copy).
  caf::replies_to<atom::get_all>::with<json>,
  /// Every entry with its revision, at one store revision.
  caf::replies_to<atom::snapshot>::with<kv_snapshot>,
  /// Removes every key; replies with the new revision.
  caf::replies_to<atom::clear>::with<uint64_t>>::extend_with<feed_actor>;

/// Service status: the flat view of the old ServiceStatusManager plus a
/// structured record per watched service that the monitor fills.
using service_status_actor = caf::typed_actor<
  /// Whether an entry is `true` (is_service_running).
  caf::replies_to<atom::check, std::string>::with<bool>,
  /// An entry's value, null if unknown (get_status).
  caf::replies_to<atom::get, std::string>::with<json>,
  /// Sets one entry (set_status); replies with the new revision.
  caf::replies_to<atom::set, std::string, json>::with<uint64_t>,
  /// Sets every entry of a JSON object, all or none (update_status).
  caf::replies_to<atom::update, json>::with<uint64_t>,
  /// Every entry as one JSON object (get_all_status).
  caf::replies_to<atom::get_all>::with<json>,
  /// The monitor's view of one service; replies whether anything changed.
  caf::replies_to<atom::report, service_record>::with<bool>,
  /// Forgets the record of a service that is no longer watched.
  caf::replies_to<atom::erase, std::string>::with<bool>,
  /// The record of one watched service.
  caf::replies_to<atom::describe, std::string>::with<service_record>,
  /// Every service record, sorted by name.
  caf::replies_to<atom::list>::with<std::vector<service_record>>>::
  extend_with<feed_actor>;

/// Test execution: the old TestExecutionManager, with an atomic start.
using test_execution_actor = caf::typed_actor<
  /// Whether a test is running (is_running).
  caf::replies_to<atom::check>::with<bool>,
  /// One field of the state, e.g. "pid" or "script"; null if unset.
  caf::replies_to<atom::get, std::string>::with<json>,
  /// The whole state as one JSON object (get_state).
  caf::replies_to<atom::get_all>::with<json>,
  /// Records a start (script, pid, extra fields); refused while a test runs.
  caf::replies_to<atom::start, std::string, json, json>::with<json>,
  /// Records a stop: running false, pid null, the rest kept.
  caf::replies_to<atom::stop>::with<json>,
  /// Clears every field.
  caf::replies_to<atom::reset>::with<json>,
  /// Sets some fields, all or none (update_state).
  caf::replies_to<atom::update, json>::with<json>>::extend_with<feed_actor>;

} // namespace labrt
