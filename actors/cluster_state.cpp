// The orchestrator's view of its hosts: how events fold into it, and what
// the API shows of it. No actors here.
#include "actors/cluster.hpp"

#include <algorithm>

#include "labrt/errc.hpp"

namespace labrt {

namespace {

constexpr std::chrono::milliseconds first_backoff{100};

bool is_active(const json& record) {
  auto state = run_state_of(record.value("state", std::string{}));
  return state != run_state::queued && !has_ended(state);
}

} // namespace

cluster_state::cluster_state(const cluster_config& cfg)
  : secret(cfg.secret), tls(cfg.tls.enabled()), timeout(cfg.request_timeout),
    start_timeout(cfg.start_timeout), stop_timeout(cfg.stop_timeout),
    max_backoff(cfg.max_backoff) {
  for (auto& peer : cfg.peers)
    hosts[peer.name].peer = peer;
}

json cluster_state::view_of(const host_view& h) {
  json last_seen = nullptr;
  if (h.last_seen.time_since_epoch().count() != 0)
    last_seen = to_iso8601(h.last_seen);
  auto address = h.peer.host.find(':') == std::string::npos
                   ? h.peer.host
                   : "[" + h.peer.host + "]";
  return {{"up", h.up},
          {"address", address + ":" + std::to_string(h.peer.port)},
          {"error", h.up ? json(nullptr) : json(h.error)},
          {"last_seen", last_seen},
          {"services", h.services},
          {"test", h.test},
          {"run", h.run},
          {"queue", h.queue}};
}

json cluster_state::view() const {
  json result = json::object();
  for (auto& [name, h] : hosts)
    result[name] = view_of(h);
  return {{"hosts", std::move(result)}};
}

host_view* cluster_state::by_node(const caf::node_id& node) {
  for (auto& entry : hosts)
    if (entry.second.up && entry.second.node == node)
      return &entry.second;
  return nullptr;
}

const host_view* cluster_state::other_at(const caf::node_id& node,
                                        const host_view& h) const {
  for (auto& entry : hosts)
    if (&entry.second != &h && entry.second.node == node)
      return &entry.second;
  return nullptr;
}

host_view* cluster_state::by_session(const caf::actor_addr& addr) {
  for (auto& entry : hosts)
    if (entry.second.session && entry.second.session.address() == addr)
      return &entry.second;
  return nullptr;
}

caf::expected<agent_actor>
cluster_state::session_of(const std::string& name) const {
  auto i = hosts.find(name);
  if (i == hosts.end())
    return make_error(errc::not_found, "no cluster host '" + name + "'");
  if (!i->second.up)
    return make_error(errc::unavailable,
                      name + " is down: " + i->second.error);
  return i->second.session;
}

bool cluster_state::apply(host_view& h, const std::string& kind,
                          const json& data) {
  if (kind != "service" && kind != "test" && kind != "run" && kind != "queue")
    return false;
  if (!data.is_object())
    return false;
  if (kind == "queue") {
    h.queue = data.value("queue", json::array());
  } else if (kind == "run") {
    // The view holds the run in progress; an ended one leaves it empty.
    h.run = is_active(data) ? data : json(nullptr);
  } else {
    auto& section = kind == "service" ? h.services : h.test;
    auto key = data.value("key", std::string{});
    auto value = data.value("new", json{});
    if (value.is_null())
      section.erase(key);
    else
      section[key] = std::move(value);
  }
  return true;
}

void cluster_state::set_snapshot(host_view& h, json snapshot) {
  h.services = snapshot.value("services", json::object());
  h.test = snapshot.value("test", json::object());
  h.run = snapshot.value("run", json{});
  h.queue = snapshot.value("queue", json::array());
}

std::chrono::milliseconds cluster_state::mark_down(host_view& h,
                                                   std::string why) {
  h.up = false;
  h.error = std::move(why);
  h.session = nullptr;
  h.node = caf::node_id{};
  h.backoff = h.backoff.count() == 0
                ? first_backoff
                : std::min(h.backoff * 2, max_backoff);
  return h.backoff;
}

} // namespace labrt
