// The cluster's TLS: a middleman actor for CAF's network layer whose
// connections speak TLS with mutual certificates (internal).
#pragma once

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include "labrt/config.hpp"

namespace labrt {

/// Spawns a middleman actor that publishes and connects as CAF's own does,
/// over TLS: both ends show a certificate, each checks the other's chain
/// against `tls.ca`. Its connections join the middleman's BASP broker, so
/// remote actors, heartbeats and node-down messages work as without TLS.
///
/// It replaces CAF 0.17's openssl module, which leaves OpenSSL's per-thread
/// error queue filled after a failed handshake: the next TLS call on any
/// healthy connection of the same thread then reads that stale error as its
/// own and drops the connection, so one bad peer cut every orchestrator off.
/// The context is made once, from files check_tls has checked.
caf::expected<caf::io::middleman_actor>
spawn_tls_middleman(caf::actor_system& sys, const cluster_tls& tls);

} // namespace labrt
