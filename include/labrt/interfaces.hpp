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
#include "labrt/monitor_types.hpp"
#include "labrt/run_types.hpp"
#include "labrt/types.hpp"

namespace labrt {

/// Anything that receives change events. Implemented by actors/event_hub.cpp.
using subscriber_actor = caf::typed_actor<
  /// One change, delivered in revision order without gaps.
  caf::reacts_to<change_event>>;

/// The change feed every manager offers: events, history, metrics.
/// Implemented once for all of them by `with_feed` in actors/feed.hpp.
using feed_actor = caf::typed_actor<
  /// Sends every change after revision `from` (replayed from history) and all later ones.
  caf::replies_to<atom::subscribe, subscriber_actor, uint64_t>::with<subscription>,
  /// Stops sending changes to a subscriber.
  caf::reacts_to<atom::unsubscribe, subscriber_actor>,
  /// The changes after a revision that the history ring still holds.
  caf::replies_to<atom::history, uint64_t>::with<std::vector<change_event>>,
  /// Reads, writes, refused operations, subscribers and revision as JSON.
  caf::replies_to<atom::metrics>::with<json>>;

/// As the expected revision of a conditional kv write: any revision, so the
/// write needs the key to exist (HTTP `If-Match: *`). Revisions count from 1
/// and never reach it.
inline constexpr uint64_t any_revision = ~uint64_t{0};

/// The generic key/value store, successor of ThreadSafeDict. Implemented by
/// actors/kv_store.cpp.
using kv_store_actor = caf::typed_actor<
  /// The value of a key, or `default` if absent.
  caf::replies_to<atom::get, std::string, json>::with<json>,
  /// A key's value with its revision.
  caf::replies_to<atom::fetch, std::string>::with<kv_entry>,
  /// Sets a key; replies with the new revision.
  caf::replies_to<atom::set, std::string, json>::with<uint64_t>,
  /// Sets a key if its revision is `expected` (0: if absent, any_revision: if present); else a conflict.
  caf::replies_to<atom::set, std::string, json, uint64_t>::with<uint64_t>,
  /// Sets every key of a JSON object, all or none.
  caf::replies_to<atom::update, json>::with<uint64_t>,
  /// Removes a key; replies whether it existed.
  caf::replies_to<atom::erase, std::string>::with<bool>,
  /// Removes a key if its revision is `expected` (any_revision: any); else a conflict.
  caf::replies_to<atom::erase, std::string, uint64_t>::with<bool>,
  /// Applies a merge patch or JSON Patch to one key atomically.
  caf::replies_to<atom::patch, std::string, json, patch_format>::with<kv_entry>,
  /// The same if the key's revision is `expected`, as for a conditional set; else a conflict.
  caf::replies_to<atom::patch, std::string, json, patch_format, uint64_t>::with<kv_entry>,
  /// Whether a key exists.
  caf::replies_to<atom::contains, std::string>::with<bool>,
  /// The number of keys.
  caf::replies_to<atom::count>::with<uint64_t>,
  /// All keys, sorted.
  caf::replies_to<atom::list_keys>::with<std::vector<std::string>>,
  /// All values as a JSON array, in key order.
  caf::replies_to<atom::list_values>::with<json>,
  /// All items as one JSON object (a copy).
  caf::replies_to<atom::get_all>::with<json>,
  /// Every entry with its revision, at one store revision.
  caf::replies_to<atom::snapshot>::with<kv_snapshot>,
  /// The entries whose key starts with a prefix (a namespace), at one store revision.
  caf::replies_to<atom::snapshot, std::string>::with<kv_snapshot>,
  /// Removes every key; replies with the new revision.
  caf::replies_to<atom::clear>::with<uint64_t>,
  /// Removes every key that starts with a prefix; replies with the new revision.
  caf::replies_to<atom::clear, std::string>::with<uint64_t>>::extend_with<feed_actor>;

/// Service status: the flat view of the old ServiceStatusManager plus a
/// structured record per watched service that the monitor fills.
/// Implemented by actors/service_status.cpp.
using service_status_actor = caf::typed_actor<
  /// Whether an entry is `true` (is_service_running).
  caf::replies_to<atom::is_running, std::string>::with<bool>,
  /// An entry's value, null if unknown (get_status).
  caf::replies_to<atom::get, std::string>::with<json>,
  /// Sets one entry (set_status); replies with the new revision.
  caf::replies_to<atom::set, std::string, json>::with<uint64_t>,
  /// Sets every entry of a JSON object, all or none (update_status).
  caf::replies_to<atom::update, json>::with<uint64_t>,
  /// Every entry as one JSON object (get_all_status).
  caf::replies_to<atom::get_all>::with<json>,
  /// The record of one watched service.
  caf::replies_to<atom::describe, std::string>::with<service_record>,
  /// Every service record, sorted by name.
  caf::replies_to<atom::list>::with<std::vector<service_record>>>::
  extend_with<feed_actor>;

/// Test execution: the old TestExecutionManager, with an atomic start, and
/// the one-test slot the runner holds for each run. Implemented by
/// actors/test_execution.cpp.
using test_execution_actor = caf::typed_actor<
  /// Whether a test is running (is_running).
  caf::replies_to<atom::is_running>::with<bool>,
  /// One field of the state, e.g. "pid" or "script"; null if unset.
  caf::replies_to<atom::get, std::string>::with<json>,
  /// The whole state as one JSON object (get_state).
  caf::replies_to<atom::get_all>::with<json>,
  /// Records a start (script, pid, extra fields); refused while a test runs.
  caf::replies_to<atom::start, std::string, json, json>::with<json>,
  /// The same start, waiting up to the last argument (ms) for the slot, in
  /// arrival order; then refused as above.
  caf::replies_to<atom::start, std::string, json, json, uint64_t>::with<json>,
  /// Records a stop: running false, pid null, the rest kept.
  caf::replies_to<atom::stop>::with<json>,
  /// Clears every field.
  caf::replies_to<atom::reset>::with<json>,
  /// Sets some fields, all or none (update_state).
  caf::replies_to<atom::update, json>::with<json>>::extend_with<feed_actor>;

/// Anything that follows the runner: its runs (each run's record, then its
/// output as a live tail, then its final record) and its queue. The runner
/// sends each batch as a request and keeps a few unanswered per subscriber
/// at most; past that it drops lines and reports how many in the next batch.
/// The rest are small plain messages. Implemented by actors/event_hub.cpp.
using run_output_actor = caf::typed_actor<
  /// A run's record after its state changed; comes before its output and after its end.
  caf::reacts_to<run_update>,
  /// Lines of the current run, in order; reply when done with them.
  caf::reacts_to<output_batch>,
  /// The whole queue, after it changed.
  caf::reacts_to<queue_update>>;

/// The test runner: starts scripts, captures their output, stops and reaps
/// their whole process tree. It holds test_execution's one-test slot for
/// each run from before the spawn to the end. One run at a time, more in a
/// FIFO queue. Implemented by actors/test_runner.cpp.
using test_runner_actor = caf::typed_actor<
  /// Starts a run now; replies once the script exec'd; refused while one runs.
  caf::replies_to<atom::start, run_spec>::with<run_record>,
  /// Stops run `id` ("" = the current one); replies when nothing of it is left.
  caf::replies_to<atom::stop, std::string, std::string>::with<run_record>,
  /// The current run (not_running when idle).
  caf::replies_to<atom::get>::with<run_record>,
  /// The record of a run: current, queued or in the history.
  caf::replies_to<atom::get, std::string>::with<run_record>,
  /// Replies with the final record once run `id` has ended.
  caf::replies_to<atom::wait, std::string>::with<run_record>,
  /// Appends a run to the FIFO queue (starts at once when idle).
  caf::replies_to<atom::enqueue, run_spec>::with<run_record>,
  /// The queued runs, first to start first.
  caf::replies_to<atom::list>::with<std::vector<run_record>>,
  /// Removes a queued run; replies with its cancelled record.
  caf::replies_to<atom::cancel, std::string>::with<run_record>,
  /// Up to `n` finished runs, newest first.
  caf::replies_to<atom::history, uint64_t>::with<std::vector<run_record>>,
  /// The finished runs a query asks for (script, outcome, time, words, page), newest first.
  caf::replies_to<atom::history, history_query>::with<std::vector<run_record>>,
  /// Sends every run's record and output and each new queue to a subscriber; replies the current run id.
  caf::replies_to<atom::subscribe, run_output_actor>::with<std::string>,
  /// Stops sending to a subscriber.
  caf::reacts_to<atom::unsubscribe, run_output_actor>,
  /// Runs started, failed, stopped, timed out; lines dropped; as JSON.
  caf::replies_to<atom::metrics>::with<json>>;

/// The service monitor: one pass over /proc per tick for every watched
/// service, exits seen at once through pidfds; reports each service's record
/// to service_status when it changes (running, pids, cmdline, since).
/// Implemented by actors/monitor.cpp.
using monitor_actor = caf::typed_actor<
  /// Watches a service (replaces a same-named rule); replies true if new, after its first scan.
  caf::replies_to<atom::add, service_rule>::with<bool>,
  /// Stops watching a service and erases its record; replies whether it was watched.
  caf::replies_to<atom::erase, std::string>::with<bool>,
  /// The watched rules, sorted by name.
  caf::replies_to<atom::list>::with<std::vector<service_rule>>,
  /// Scans /proc now; replies with every watched service's record, sorted by name.
  caf::replies_to<atom::scan>::with<std::vector<service_record>>,
  /// Scans, exits seen, reports sent, watched pids, last scan time, as JSON.
  caf::replies_to<atom::metrics>::with<json>>;

/// A reader of the merged event stream. The hub sends one batch at a time as
/// a request and the next only after the reply, so a slow reader costs no
/// memory: it falls behind the hub's ring and learns how much it missed.
/// Implemented by labrt::event_stream (src/event_stream.cpp), a scoped actor.
using event_sink_actor = caf::typed_actor<
  /// Events in id order; reply when ready for more.
  caf::reacts_to<event_batch>>;

/// The event hub: every manager's changes and every run's output merged into
/// one numbered stream with a bounded history, for SSE and dashboards.
/// Implemented by actors/event_hub.cpp.
using event_hub_actor = caf::typed_actor<
  /// Sends the held events after id `after` (events_from_now: none), then every new one; replies the last id.
  caf::replies_to<atom::subscribe, event_sink_actor, uint64_t>::with<uint64_t>,
  /// Stops sending to a sink.
  caf::reacts_to<atom::unsubscribe, event_sink_actor>,
  /// The held events after an id.
  caf::replies_to<atom::history, uint64_t>::with<std::vector<event>>,
  /// Events seen, held and dropped from the ring, sinks, last id, as JSON.
  caf::replies_to<atom::metrics>::with<json>>::
  extend_with<subscriber_actor>::extend_with<run_output_actor>;

/// The orchestrator: a live view of every agent it follows, fed by their
/// events, and a way to drive each. A request for a host that is down fails
/// at once with `errc::unavailable` naming it; every other has a deadline.
/// Implemented by actors/cluster.cpp.
using cluster_actor = caf::typed_actor<
  /// {"hosts": {name: {"up", "address", "error", "last_seen", "services", "test", "run", "queue"}}}.
  caf::replies_to<atom::get>::with<json>,
  /// Starts a run on a host now.
  caf::replies_to<atom::start, std::string, run_spec>::with<run_record>,
  /// Stops run `id` ("" = the current one) on a host, recording `by`: (host, id, by).
  caf::replies_to<atom::stop, std::string, std::string, std::string>::with<run_record>,
  /// Appends a run to a host's queue.
  caf::replies_to<atom::enqueue, std::string, run_spec>::with<run_record>,
  /// A host's queue.
  caf::replies_to<atom::list, std::string>::with<std::vector<run_record>>,
  /// Removes a queued run of a host: (host, id).
  caf::replies_to<atom::cancel, std::string, std::string>::with<run_record>,
  /// A host's finished runs, newest first.
  caf::replies_to<atom::history, std::string, history_query>::with<std::vector<run_record>>,
  /// A host's run record: (host, id).
  caf::replies_to<atom::get, std::string, std::string>::with<run_record>,
  /// A chunk of a host's run log: (host, id ("" = the current or last run), offset).
  caf::replies_to<atom::read, std::string, std::string, uint64_t>::with<log_chunk>,
  /// A host's kv entries whose key starts with a prefix ("" = all): (host, prefix).
  caf::replies_to<atom::snapshot, std::string, std::string>::with<kv_snapshot>,
  /// A host's kv key with its revision: (host, key).
  caf::replies_to<atom::fetch, std::string, std::string>::with<kv_entry>,
  /// Sets a host's kv key: (host, key, value); replies with the new revision.
  caf::replies_to<atom::set, std::string, std::string, json>::with<uint64_t>,
  /// The same if the key's revision is `expected`, as kv_store_actor's: (host, key, value, expected).
  caf::replies_to<atom::set, std::string, std::string, json, uint64_t>::with<uint64_t>,
  /// Removes a host's kv key: (host, key); replies whether it existed.
  caf::replies_to<atom::erase, std::string, std::string>::with<bool>,
  /// The same if the key's revision is `expected`: (host, key, expected).
  caf::replies_to<atom::erase, std::string, std::string, uint64_t>::with<bool>>;

/// The database's writer, as runtime::storage() shows it (null without a
/// state_dir).
using storage_actor = caf::typed_actor<
  /// {"state": "ok" | "degraded", "file", "error" (while degraded: the last
  /// failed commit's), "commits", "failures", "pruned_runs"}.
  caf::replies_to<atom::storage>::with<json>>;

} // namespace labrt
