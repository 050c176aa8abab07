// What crosses the network between an orchestrator and its agents: the
// agent's two interfaces, and the setup that names every type in them.
// Internal: embedders reach a cluster through runtime::cluster().
#pragma once

#include <map>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>
#include <caf/node_id.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "labrt/config.hpp"
#include "labrt/interfaces.hpp"

namespace labrt {

/// Travels in CAF's handshake (middleman.app-identifiers): an orchestrator
/// drops an agent that speaks another protocol before any message. Bump it
/// with any change to the interfaces or types below; the type names carry
/// it too, so that CAF's interface check at connect agrees.
inline constexpr const char* cluster_protocol = "labrt-cluster-3";

/// What an agent offers the orchestrator it opened a session for.
/// Implemented by actors/agent.cpp.
using agent_actor = caf::typed_actor<
  /// The host now: {"services", "test", "run", "queue"}.
  caf::replies_to<atom::get>::with<json>,
  /// Sends the agent's events after id `after` to a sink, as its hub does; replies the last id.
  caf::replies_to<atom::subscribe, event_sink_actor, uint64_t>::with<uint64_t>,
  /// Starts a run now.
  caf::replies_to<atom::start, run_spec>::with<run_record>,
  /// Stops a run ("" = the current one), recording who asked.
  caf::replies_to<atom::stop, std::string, std::string>::with<run_record>,
  /// Appends a run to the queue.
  caf::replies_to<atom::enqueue, run_spec>::with<run_record>,
  /// The queue.
  caf::replies_to<atom::list>::with<std::vector<run_record>>,
  /// Removes a queued run.
  caf::replies_to<atom::cancel, std::string>::with<run_record>,
  /// Finished runs, newest first.
  caf::replies_to<atom::history, history_query>::with<std::vector<run_record>>,
  /// A run's record: current, queued or in the history.
  caf::replies_to<atom::get, std::string>::with<run_record>,
  /// A chunk of a run's log from an offset ("" = the current run, or the last).
  caf::replies_to<atom::read, std::string, uint64_t>::with<log_chunk>,
  /// The kv entries whose key starts with a prefix ("" = all).
  caf::replies_to<atom::snapshot, std::string>::with<kv_snapshot>,
  /// A kv key with its revision.
  caf::replies_to<atom::fetch, std::string>::with<kv_entry>,
  /// Sets a kv key; replies with the new revision.
  caf::replies_to<atom::set, std::string, json>::with<uint64_t>,
  /// Sets a kv key if its revision is `expected`.
  caf::replies_to<atom::set, std::string, json, uint64_t>::with<uint64_t>,
  /// Removes a kv key; replies whether it existed.
  caf::replies_to<atom::erase, std::string>::with<bool>,
  /// Removes a kv key if its revision is `expected`.
  caf::replies_to<atom::erase, std::string, uint64_t>::with<bool>>;

/// The one actor an agent publishes. Implemented by actors/agent.cpp.
using agent_gate_actor = caf::typed_actor<
  /// A session for the caller's node, if `secret` is the cluster's.
  caf::replies_to<atom::open, std::string>::with<agent_actor>>;

/// Loads CAF's middleman, names every type that crosses the network and sets
/// the heartbeat that finds a silent peer.
void configure_cluster(caf::actor_system_config& cfg);

/// What an agent serves, from its runtime's actors.
struct agent_targets {
  kv_store_actor kv;
  service_status_actor services;
  test_execution_actor tests;
  test_runner_actor runner; ///< Null without a runner.
  event_hub_actor events;
};

struct agent_gate_state {
  /// Each opener's session. An orchestrator that gives a session up while
  /// its connection stays (a snapshot that timed out) opens another: the new
  /// one replaces the old, which would otherwise live until the node goes.
  std::map<caf::actor_addr, agent_actor> sessions;
};

agent_gate_actor::behavior_type
agent_gate(agent_gate_actor::stateful_pointer<agent_gate_state> self,
           agent_targets targets, std::string secret);

} // namespace labrt
