// The orchestrator: follows every configured agent over caf::io, keeps each
// host's view from the agent's events, and routes commands to it.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include <caf/io/middleman_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/timestamp.hpp>

#include "actors/agent.hpp"
#include "labrt/config.hpp"
#include "labrt/interfaces.hpp"

namespace labrt {

/// What the orchestrator knows of one agent.
struct host_view {
  cluster_peer peer;
  bool up = false;
  /// Why the host is down, or was refused ("" while up).
  std::string error = "connecting";
  /// When the host last sent something (its snapshot or events).
  caf::timestamp last_seen{};
  json services = json::object();
  json test = json::object();
  json run = nullptr;
  json queue = json::array();
  agent_actor session; ///< Null while down.
  caf::node_id node;
  /// Counts connection attempts: a reply to an older one is ignored.
  uint64_t attempt = 0;
  std::chrono::milliseconds backoff{0};
};

/// The orchestrator's state: plain methods, tested without actors.
struct cluster_state {
  cluster_state() = default;
  explicit cluster_state(const cluster_config& cfg);

  /// GET /api/cluster: every host by name.
  json view() const;

  /// One host's entry of `view`.
  static json view_of(const host_view& h);

  /// The host an agent's node belongs to; null if none.
  host_view* by_node(const caf::node_id& node);

  /// Another host than `h` that is the agent at `node`, connecting or up;
  /// null if none. Two peers at one agent would take each other's session.
  const host_view* other_at(const caf::node_id& node, const host_view& h) const;

  /// The host whose session `addr` is; null if none.
  host_view* by_session(const caf::actor_addr& addr);

  /// The session to send a host's command to: `errc::not_found` for a name
  /// not configured, `errc::unavailable` (naming the host) while it is down.
  caf::expected<agent_actor> session_of(const std::string& name) const;

  /// Folds one of the host's events (its kind and parsed data) into its
  /// view; true if the view changed.
  static bool apply(host_view& h, const std::string& kind, const json& data);

  /// Replaces the host's view with a snapshot from its agent.
  static void set_snapshot(host_view& h, json snapshot);

  /// Marks the host down and returns how long to wait before the next
  /// attempt: doubling from 100 ms to `max_backoff`.
  std::chrono::milliseconds mark_down(host_view& h, std::string why);

  std::map<std::string, host_view> hosts;
  std::string secret;
  /// The agents speak TLS: a refused handshake's error names its causes.
  bool tls = false;
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds start_timeout{30000};
  std::chrono::milliseconds stop_timeout{60000};
  std::chrono::milliseconds max_backoff{5000};
  /// Where each host's events go on, tagged with the host; may be null.
  event_hub_actor events;
  /// CAF's middleman, or the TLS one: what connects to the agents.
  caf::io::middleman_actor middleman;
};

/// The orchestrator's full interface: its public one, the event sink the
/// agents' hubs feed, and its own reconnection timer.
using cluster_impl_actor = cluster_actor::extend<
  caf::reacts_to<event_batch>,
  caf::reacts_to<atom::connect, std::string>>;

cluster_impl_actor::behavior_type
cluster(cluster_impl_actor::stateful_pointer<cluster_state> self,
        cluster_config cfg, event_hub_actor events,
        caf::io::middleman_actor middleman);

} // namespace labrt
