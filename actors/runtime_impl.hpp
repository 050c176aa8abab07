// The inside of labrt::runtime: the actor system and the handles of what
// it spawned. actors/runtime.cpp checks a config and makes one;
// actors/runtime_impl.cpp spawns, connects and stops the actors.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/io/middleman_actor.hpp>

#include "actors/agent.hpp"
#include "actors/cluster.hpp"
#include "actors/persistence.hpp"
#include "actors/service_status.hpp"
#include "actors/test_execution.hpp"
#include "labrt/runtime.hpp"

namespace labrt {

/// Calls release_thread_logger on leaving a scope that spawns or makes
/// scoped_actors on a caller's thread.
struct logger_release {
  logger_release() = default;
  logger_release(const logger_release&) = delete;
  logger_release& operator=(const logger_release&) = delete;
  ~logger_release() {
    release_thread_logger();
  }
};

struct runtime::impl {
  /// Spawns the managers, the monitor and the runner (with the database's
  /// kv image and queue when there is a state_dir).
  impl(runtime_config config, std::shared_ptr<store_db> db, kv_image image,
       std::vector<queued_run> queue);

  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  ~impl();

  /// Subscribes the database to the service manager, so that every status
  /// transition is recorded; from now on (the defaults are no transition).
  caf::error record_services();

  /// Spawns the event hub and subscribes it to every source, waiting for
  /// each answer: once `make` returns, no change escapes it.
  caf::error start_hub();

  /// Publishes this runtime's agent and starts following the configured
  /// agents; a port that cannot be bound is a start error.
  caf::error start_cluster();

  /// Stops the runner first, while test_execution still records the end of
  /// its run: it stops the current run (TERM, grace, KILL) or leaves it, per
  /// config, and terminates when done.
  void stop_runner();

  /// Stops every actor; idempotent.
  void shutdown();

  runtime_config cfg;
  caf::actor_system_config caf_cfg;
  caf::actor_system sys;
  persistence_actor store; ///< Null without a state_dir.
  storage_actor storage;
  kv_store_actor kv;
  service_status_internal_actor status;
  service_status_actor services;
  // The wide handles (see test_execution_internal_actor, test_runner_internal_actor) stay in here; the
  // accessors hand out the public interfaces.
  test_execution_internal_actor slot;
  test_execution_actor tests;
  test_runner_actor runner;
  monitor_actor service_monitor;
  event_hub_actor hub;
  agent_gate_actor gate;       ///< Null unless cluster.publish.
  caf::io::middleman_actor tls_middleman; ///< Null without cluster.tls.
  uint16_t agent_port = 0;
  cluster_actor orchestrator;  ///< Null without cluster.peers.
};

} // namespace labrt
