// The embedded runtime: an actor system with the labrt managers.
#pragma once

#include <memory>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "labrt/config.hpp"
#include "labrt/interfaces.hpp"

namespace labrt {

/// Owns a `caf::actor_system` and the managers spawned in it. No globals: a
/// process may hold many runtimes (tests do). Destruction stops every actor
/// it spawned and waits for them.
class runtime {
public:
  /// Validates `cfg`, starts the actor system and spawns the managers.
  static caf::expected<std::unique_ptr<runtime>> make(runtime_config cfg = {});

  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  caf::actor_system& system() noexcept;

  const runtime_config& config() const noexcept;

  const kv_store_actor& kv() const noexcept;
  const service_status_actor& services() const noexcept;
  /// The test-execution manager (TestExecutionManager and the one-test slot).
  const test_execution_actor& test_execution() const noexcept;
  [[deprecated("use test_execution()")]] const test_execution_actor&
  tests() const noexcept {
    return test_execution();
  }
  /// The test runner; null if `config().runner.enabled` is false.
  const test_runner_actor& runner() const noexcept;
  /// The service monitor (always running, with zero or more rules).
  const monitor_actor& monitor() const noexcept;
  /// Every change and run output line as one numbered stream.
  const event_hub_actor& events() const noexcept;
  /// The state of `<state_dir>/labrt.db`; null without a state_dir.
  const storage_actor& storage() const noexcept;
  /// The orchestrator of `config().cluster.peers`; null without peers.
  const cluster_actor& cluster() const noexcept;
  /// The port this runtime's agent listens on (`cluster.publish`, where
  /// port 0 picks one); 0 when it publishes none.
  uint16_t agent_port() const noexcept;

  /// Spawns another manager in this runtime, with its own state, revisions
  /// and feed: for embedders that want one manager per object of theirs (the
  /// Python module's compat dicts); actors are cheap, runtimes are not. It
  /// stops when the runtime shuts down, or when its last handle is dropped.
  /// `errc::shutting_down` after shutdown.
  caf::expected<kv_store_actor> spawn_kv();
  /// ... a service-status manager with the built-in and configured defaults.
  caf::expected<service_status_actor> spawn_services();
  /// ... a test-execution manager with its own one-test slot (no runner uses it).
  caf::expected<test_execution_actor> spawn_test_execution();

  /// Stops the runner (and with it the current run, unless configured to
  /// leave it), then every manager; later requests fail. Idempotent.
  void shutdown();

  struct impl;

private:
  explicit runtime(std::unique_ptr<impl> ptr);

  std::unique_ptr<impl> impl_;
};

/// Drops the calling thread's reference to the logger of the last actor
/// system it used. CAF 0.17 takes one in each thread that makes an actor
/// system, spawns into one or makes a scoped_actor, and keeps it until the
/// thread ends or uses another system; ~actor_system waits for its logger to go, so one left in any
/// other live thread makes destroying a runtime hang. labrt's own calls
/// drop theirs; code that spawns or makes a scoped_actor through `system()`
/// calls this afterwards, on a thread that may outlive the runtime. Harmless
/// for CAF: its logging skips a thread without a logger.
void release_thread_logger() noexcept;

} // namespace labrt
