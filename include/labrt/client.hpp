// Blocking facades for threads that are not actors (HTTP handlers, CLIs).
//
// The method names are those of the old Python module, so porting a caller is
// mechanical. Every call has a timeout and returns a value or an error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "labrt/interfaces.hpp"
#include "labrt/json.hpp"
#include "labrt/monitor_types.hpp"
#include "labrt/run_types.hpp"
#include "labrt/types.hpp"

namespace labrt {

class runtime;
class client;

/// What every manager's facade offers: its change history and metrics.
class manager_facade {
public:
  enum class manager { kv, services, tests };

  /// The changes after revision `since` that the manager's history holds.
  caf::expected<std::vector<change_event>> history(uint64_t since = 0);
  /// Reads, writes, refused operations, subscribers and revision.
  caf::expected<json> metrics();

protected:
  manager_facade(client& c, manager m, feed_actor own)
    : client_(c), manager_(m), own_(std::move(own)) {
  }

  client& client_;
  manager manager_;
  /// A manager of runtime::spawn_kv ...; null: the runtime's own.
  feed_actor own_;
};

/// The kv store (ThreadSafeDict). Obtained from `client::kv()`.
class kv_facade : public manager_facade {
public:
  caf::expected<json> get(const std::string& key, json fallback = nullptr);
  caf::expected<kv_entry> fetch(const std::string& key);
  caf::expected<uint64_t> set(const std::string& key, json value);
  /// Sets `key` only if its revision is `expected` (0: only if absent,
  /// any_revision: only if present); else `errc::conflict`.
  caf::expected<uint64_t> set_if(const std::string& key, json value,
                                 uint64_t expected);
  caf::expected<uint64_t> update(json items);
  caf::expected<bool> erase(const std::string& key);
  caf::expected<bool> erase_if(const std::string& key, uint64_t expected);
  caf::expected<kv_entry> merge_patch(const std::string& key, json patch);
  caf::expected<kv_entry> json_patch(const std::string& key, json patch);
  /// Applies a patch only if the revision of `key` is `expected`, as set_if.
  caf::expected<kv_entry> patch_if(const std::string& key, json patch,
                                   patch_format format, uint64_t expected);
  caf::expected<bool> contains(const std::string& key);
  caf::expected<uint64_t> size();
  caf::expected<std::vector<std::string>> keys();
  caf::expected<json> values();
  caf::expected<json> items();
  /// A copy of every item, as the old `copy()`.
  caf::expected<json> copy() {
    return items();
  }
  caf::expected<kv_snapshot> snapshot();
  /// The entries whose key starts with `prefix`: a namespace such as "ns/".
  caf::expected<kv_snapshot> snapshot(const std::string& prefix);
  caf::expected<uint64_t> clear();
  /// Removes the keys that start with `prefix`, in one message.
  caf::expected<uint64_t> clear(const std::string& prefix);
private:
  friend class client;
  kv_facade(client& c, feed_actor own) : manager_facade(c, manager::kv, std::move(own)) {
  }
};

/// The service-status manager (ServiceStatusManager).
class service_facade : public manager_facade {
public:
  caf::expected<bool> is_service_running(const std::string& name);
  caf::expected<json> get_status(const std::string& entry);
  caf::expected<uint64_t> set_status(const std::string& entry, json value);
  caf::expected<uint64_t> update_status(json entries);
  caf::expected<json> get_all_status();
  caf::expected<service_record> describe(const std::string& name);
  caf::expected<std::vector<service_record>> records();
private:
  friend class client;
  service_facade(client& c, feed_actor own) : manager_facade(c, manager::services, std::move(own)) {
  }
};

/// The test-execution manager (TestExecutionManager).
class test_facade : public manager_facade {
public:
  caf::expected<bool> is_running();
  caf::expected<json> get_pid();
  caf::expected<json> get_script();
  caf::expected<json> get_bin();
  caf::expected<json> get_topology();
  caf::expected<json> get_topology_file();
  caf::expected<json> get_start_time();
  caf::expected<json> get_field(const std::string& field);
  /// Refused with `errc::already_running` while a test runs.
  caf::expected<json> start_test(const std::string& script, json pid,
                                 json extra = json::object());
  /// The same start, waiting up to `wait` for a running test to end (starts
  /// that wait get the slot in arrival order); then `errc::already_running`.
  caf::expected<json> start_test(const std::string& script, json pid,
                                 json extra, std::chrono::milliseconds wait);
  caf::expected<json> stop_test();
  caf::expected<json> reset();
  caf::expected<json> get_state();
  caf::expected<json> update_state(json fields);
private:
  friend class client;
  test_facade(client& c, feed_actor own) : manager_facade(c, manager::tests, std::move(own)) {
  }
};

/// The test runner. Start and stop answer once the child exec'd / once
/// nothing of the run is left; stop waits up to the runner's grace plus 10 s.
class runner_facade {
public:
  /// Starts a run now; refused with `errc::already_running` while one runs.
  caf::expected<run_record> start(run_spec spec);
  /// Stops run `run_id` ("" = the current one); `by` is recorded as
  /// stopped_by ("" = "request").
  caf::expected<run_record> stop(const std::string& run_id = {},
                                 const std::string& by = {});
  /// The current run (`errc::not_running` when idle).
  caf::expected<run_record> status();
  /// A current, queued or finished run.
  caf::expected<run_record> get(const std::string& run_id);
  /// The final record of a run, once it has ended (or `errc::timeout`).
  caf::expected<run_record> wait(const std::string& run_id,
                                 std::chrono::milliseconds timeout);
  /// Appends a run to the FIFO queue; it starts at once when idle.
  caf::expected<run_record> enqueue(run_spec spec);
  /// The queued runs, first to start first.
  caf::expected<std::vector<run_record>> queue();
  /// Removes a queued run.
  caf::expected<run_record> cancel(const std::string& run_id);
  /// Up to `n` finished runs, newest first.
  caf::expected<std::vector<run_record>> history(uint64_t n = 100);
  caf::expected<std::vector<run_record>> history(const history_query& q);
  caf::expected<json> metrics();

private:
  friend class client;
  explicit runner_facade(client& c) : client_(c) {
  }
  client& client_;
};

/// The service monitor. `add` answers once the service's first scan has been
/// applied (its record is then in the service-status manager); `scan`
/// passes over /proc now.
class monitor_facade {
public:
  /// Watches a service, replacing a rule of the same name; true if new.
  /// An invalid rule is refused with `errc::invalid_argument`.
  caf::expected<bool> add(service_rule rule);
  /// Stops watching a service and erases its record; false if not watched.
  caf::expected<bool> remove(const std::string& name);
  /// The watched rules, sorted by name.
  caf::expected<std::vector<service_rule>> rules();
  /// Every watched service's record after a pass now, sorted by name.
  caf::expected<std::vector<service_record>> scan();
  /// Scans, exits seen, reports, watched pids, duration of the last scan.
  caf::expected<json> metrics();

private:
  friend class client;
  explicit monitor_facade(client& c) : client_(c) {}
  client& client_;
};

/// One host's kv store, through the orchestrator: kv_facade's calls that
/// travel, with its meaning. Obtained from `cluster_facade::kv(host)`.
class cluster_kv_facade {
public:
  caf::expected<kv_snapshot> snapshot(const std::string& prefix = {});
  caf::expected<kv_entry> fetch(const std::string& key);
  caf::expected<uint64_t> set(const std::string& key, json value);
  caf::expected<uint64_t> set_if(const std::string& key, json value,
                                 uint64_t expected);
  caf::expected<bool> erase(const std::string& key);
  caf::expected<bool> erase_if(const std::string& key, uint64_t expected);

private:
  friend class cluster_facade;
  cluster_kv_facade(client& c, std::string host)
    : client_(c), host_(std::move(host)) {
  }
  client& client_;
  std::string host_;
};

/// The orchestrator (runtime::cluster()): every host's view, and commands
/// sent on to one host's agent. A host that is down fails at once with
/// `errc::unavailable`; errors from a host name it.
class cluster_facade {
public:
  /// {"hosts": {name: {"up", "address", "error", "last_seen", "services",
  /// "test", "run", "queue"}}}.
  caf::expected<json> hosts();
  caf::expected<run_record> start(const std::string& host, run_spec spec);
  caf::expected<run_record> stop(const std::string& host,
                                 const std::string& run_id = {},
                                 const std::string& by = {});
  caf::expected<run_record> enqueue(const std::string& host, run_spec spec);
  caf::expected<std::vector<run_record>> queue(const std::string& host);
  caf::expected<run_record> cancel(const std::string& host,
                                   const std::string& run_id);
  caf::expected<std::vector<run_record>> history(const std::string& host,
                                                 const history_query& q);
  /// A run of the host: current, queued or in its history.
  caf::expected<run_record> run(const std::string& host,
                                const std::string& run_id);
  /// Up to 64 KiB of a run's log from `offset`, read on the host; run_id ""
  /// = its current run, or else its last.
  caf::expected<log_chunk> read_log(const std::string& host,
                                    const std::string& run_id,
                                    uint64_t offset);
  /// The host's kv store.
  cluster_kv_facade kv(const std::string& host) {
    return {client_, host};
  }

private:
  friend class client;
  explicit cluster_facade(client& c) : client_(c) {}
  client& client_;
};

/// A blocking gateway into one runtime. It owns one CAF scoped_actor, reused
/// for every call, so it is cheap per call but belongs to one thread at a
/// time: give each thread its own client.
class client {
public:
  explicit client(runtime& rt,
                  std::chrono::milliseconds timeout = std::chrono::seconds{5});
  ~client();

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  kv_facade& kv() noexcept {
    return kv_;
  }
  service_facade& services() noexcept {
    return services_;
  }
  test_facade& tests() noexcept {
    return tests_;
  }
  runner_facade& runner() noexcept {
    return runner_;
  }
  monitor_facade& monitor() noexcept {
    return monitor_;
  }
  /// `errc::not_found` on every call without `cluster.peers`.
  cluster_facade& cluster() noexcept {
    return cluster_;
  }

  /// The state of the runtime's database (storage_actor);
  /// {"state": "memory"} without a state_dir.
  caf::expected<json> storage();

  /// The event hub's metrics (events held and their bytes, dropped, sinks);
  /// `errc::invalid_argument` without runtime_config::event_hub.
  caf::expected<json> event_metrics();

  /// The facades of managers that runtime::spawn_kv, spawn_services and
  /// spawn_test_execution made.
  kv_facade kv(kv_store_actor store);
  service_facade services(service_status_actor manager);
  test_facade tests(test_execution_actor manager);

  /// Waits for each answer in slices of `slice` and asks `keep_waiting`
  /// between them; false ends the call with `errc::timeout` at once, for a
  /// caller that must react to signals (the Python module: Ctrl-C). The
  /// abandoned answer may still arrive later and stay in this client's
  /// mailbox, so such a caller should drop the client.
  void wait_in_slices(std::chrono::milliseconds slice,
                      std::function<bool()> keep_waiting);

private:
  struct impl;
  friend struct client_access; // src/client.cpp, for the facades
  std::unique_ptr<impl> impl_;
  kv_facade kv_;
  service_facade services_;
  test_facade tests_;
  runner_facade runner_;
  monitor_facade monitor_;
  cluster_facade cluster_;
};

} // namespace labrt
