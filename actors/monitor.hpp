// The service monitor actor, successor of the old monitor_services() loop,
// with its two detached helpers: the /proc scanner and the pidfd watcher.
//
//   scanner (detached, timer) --scan_result--> monitor --report-->
//   service_status watcher (detached, poll)  --proc_exits-->  monitor --update
//   + eventfd--> watcher
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "actors/service_status.hpp"
#include "labrt/interfaces.hpp"
#include "src/pidfd_watch.hpp"
#include "src/scan_pool.hpp"
#include "src/service_rules.hpp"

namespace labrt {

/// The monitor as the runtime spawns it: the public interface plus the
/// reports of its two helpers, which nobody else may send.
using monitor_internal_actor = monitor_actor::extend<
  /// From the scanner: one pass over /proc.
  caf::reacts_to<scan_result>,
  /// From the pidfd watcher: watched processes that ended.
  caf::reacts_to<proc_exits>>;

/// The monitor's scanner: a detached actor that owns the compiled rules and
/// does the blocking passes over /proc, one per interval.
using proc_scanner_actor = caf::typed_actor<
  /// Installs or replaces a rule (validated by the monitor) under a rule id.
  caf::reacts_to<atom::add, service_rule, uint64_t>,
  /// Drops a rule.
  caf::reacts_to<atom::erase, std::string>,
  /// One pass now, as the reply.
  caf::replies_to<atom::scan>::with<scan_result>,
  /// The periodic pass: sends the result to the monitor and re-arms.
  caf::reacts_to<atom::tick>>;

/// The monitor's pidfd watcher: a detached actor blocked in poll() on the
/// pidfds of every matched process plus an eventfd; whoever sends it a
/// message writes the eventfd after, so that it returns to its mailbox.
using pidfd_watcher_actor = caf::typed_actor<
  /// Starts watching the first list and stops watching the second.
  caf::reacts_to<atom::update, std::vector<proc_id>, std::vector<proc_id>>,
  /// One poll() until an exit or the eventfd; re-sent to itself after each wake.
  caf::reacts_to<atom::wait>>;


/// State of the monitor. It never touches /proc itself: it keeps, per
/// watched service, the live processes that the last scan and the exits
/// since then imply, and reports a service's record only when its running
/// flag, pids or cmdline change.
///
/// Races: a scan that began before an exit was seen may still list the
/// process; exited ids are kept as tombstones until a scan that started
/// after the exit arrives, so a late scan cannot revive them. Results for a
/// rule that was replaced or removed since (rule id mismatch) are ignored.
struct monitor_state {
  static inline const char* name = "labrt.monitor";

  /// One watched service.
  struct tracked {
    service_rule rule;
    uint64_t rule_id = 0;
    /// Live matching processes as far as the monitor knows.
    std::map<proc_id, proc_entry> procs;
    /// Whether `last` was reported at least once.
    bool reported = false;
    service_record last;
  };

  /// Validates and installs a rule (replacing one of the same name).
  /// Returns (is new, rule id).
  caf::expected<std::pair<bool, uint64_t>> add_rule(service_rule rule);

  /// Forgets a service; false if it was not watched.
  bool erase_rule(const std::string& name);

  /// Every rule, sorted by name.
  std::vector<service_rule> rules() const;

  /// Applies one pass over /proc; returns the records to report.
  std::vector<service_record> apply_scan(const scan_result& scan);

  /// Applies exits seen by the watcher; returns the records to report.
  std::vector<service_record> apply_exits(const proc_exits& exits);

  /// What the watcher must start and stop watching so that it watches
  /// exactly the processes of all services; updates `watched`.
  std::pair<std::vector<proc_id>, std::vector<proc_id>> watch_diff();

  /// The current record of every service, sorted by name.
  std::vector<service_record> records() const;

  json metrics() const;

  std::map<std::string, tracked> services;
  std::map<proc_id, caf::timestamp> tombstones;
  std::set<proc_id> watched;
  uint64_t next_rule_id = 1;

  // Metrics.
  uint64_t scans = 0;
  uint64_t exits_seen = 0;
  uint64_t reports = 0;
  uint64_t report_errors = 0;
  uint64_t last_scan_us = 0;
  uint64_t last_scanned = 0;
  std::string last_error;

  // Wiring (set by the behavior).
  service_status_internal_actor status;
  proc_scanner_actor scanner;
  pidfd_watcher_actor watcher;
  std::shared_ptr<event_fd> wake;

private:
  /// The record of `t` if it differs from the last one reported.
  std::optional<service_record> changed(tracked& t, caf::timestamp when);
};

monitor_internal_actor::behavior_type monitor(
  monitor_internal_actor::stateful_pointer<monitor_state> self,
  service_status_internal_actor status, std::vector<service_rule> rules,
  std::chrono::milliseconds interval);

/// State of the scanner: the compiled rules and the interval.
struct proc_scanner_state {
  static inline const char* name = "labrt.proc_scanner";

  rule_set rules;
  /// /proc files and exe paths kept across passes, one set per thread.
  scan_pool pool;
  monitor_internal_actor monitor;
  std::chrono::milliseconds interval{1000};
  /// Whether the periodic tick is armed (the first `tick` arms it).
  bool ticking = false;
};

/// Runs detached: each pass over /proc blocks its own thread only.
proc_scanner_actor::behavior_type proc_scanner(
  proc_scanner_actor::stateful_pointer<proc_scanner_state> self,
  monitor_internal_actor monitor, std::chrono::milliseconds interval);

/// State of the pidfd watcher.
struct pidfd_watcher_state {
  static inline const char* name = "labrt.pidfd_watcher";

  pidfd_set fds;
  std::shared_ptr<event_fd> wake;
  monitor_internal_actor monitor;
};

/// Runs detached, mostly blocked in poll(); see pidfd_watcher_actor.
pidfd_watcher_actor::behavior_type pidfd_watcher(
  pidfd_watcher_actor::stateful_pointer<pidfd_watcher_state> self,
  monitor_internal_actor monitor, std::shared_ptr<event_fd> wake);

} // namespace labrt
