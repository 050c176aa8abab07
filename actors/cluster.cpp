// The orchestrator's actor: connects to each agent through CAF's middleman,
// opens a session with the secret, follows the agent's events, and forwards
// commands with a deadline. A lost agent is retried with capped backoff.
#include "actors/cluster.hpp"

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "labrt/errc.hpp"

namespace labrt {

namespace {

using self_ptr = cluster_impl_actor::stateful_pointer<cluster_state>;

std::string describe(caf::actor_system& sys, const caf::error& err) {
  return err.category() == error_category() ? message_of(err)
                                            : sys.render(err);
}

/// Why a connection failed. A handshake cut short is, most often, TLS on one
/// end only or a certificate the other end does not trust: TLS gives no
/// reason, so the message names the likely ones.
std::string connect_failure(self_ptr self, const caf::error& err) {
  auto text = "cannot connect: " + describe(self->system(), err);
  if (err != caf::sec::disconnect_during_handshake)
    return text;
  return text + (self->state.tls
                   ? " (TLS: the agent did not take this orchestrator's "
                     "certificate or this orchestrator the agent's, or the "
                     "agent has no cluster.tls)"
                   : " (the agent may require TLS: see cluster.tls)");
}

/// Hands the host's news on to this runtime's event stream, tagged with the
/// host: `/api/events` then carries every host's events.
void tell_hub(self_ptr self, const std::string& host, json news) {
  if (!self->state.events)
    return;
  self->send(self->state.events,
             change_event{"cluster", host, nullptr, std::move(news), 0,
                          caf::make_timestamp()});
}

/// The host `name` if `attempt` is still its current connection attempt.
host_view* current(self_ptr self, const std::string& name, uint64_t attempt) {
  auto i = self->state.hosts.find(name);
  if (i == self->state.hosts.end() || i->second.attempt != attempt)
    return nullptr;
  return &i->second;
}

void retry_later(self_ptr self, host_view& h, std::string why) {
  bool was_up = h.up;
  ++h.attempt; // Replies to the failed attempt no longer count.
  auto wait = self->state.mark_down(h, std::move(why));
  if (was_up)
    tell_hub(self, h.peer.name,
             {{"kind", "host"}, {"data", cluster_state::view_of(h)}});
  self->delayed_send(self, wait, atom::connect_v, h.peer.name);
}

/// Fetches the host's whole view; the first one brings the host up.
void read_snapshot(self_ptr self, const std::string& name, uint64_t attempt) {
  auto host = current(self, name, attempt);
  if (host == nullptr)
    return;
  self->request(host->session, self->state.timeout, atom::get_v)
    .then(
      [self, name, attempt](json& snapshot) {
        auto h = current(self, name, attempt);
        if (h == nullptr)
          return;
        cluster_state::set_snapshot(*h, std::move(snapshot));
        h->last_seen = caf::make_timestamp();
        bool was_up = h->up;
        h->up = true;
        h->error.clear();
        h->backoff = std::chrono::milliseconds{0};
        if (!was_up)
          tell_hub(self, name,
                   {{"kind", "host"}, {"data", cluster_state::view_of(*h)}});
      },
      [self, name, attempt](caf::error& err) {
        if (auto h = current(self, name, attempt))
          retry_later(self, *h, "no snapshot: " + describe(self->system(), err));
      });
}

/// Opens a session at the agent's gate, subscribes to its events from now,
/// then reads its view: an event that passes the snapshot is applied again,
/// which changes nothing.
void open_session(self_ptr self, const std::string& name, uint64_t attempt,
                  agent_gate_actor gate) {
  self->request(gate, self->state.timeout, atom::open_v, self->state.secret)
    .then(
      [self, name, attempt](agent_actor& session) {
        auto host = current(self, name, attempt);
        if (host == nullptr)
          return;
        host->session = session;
        self->monitor(session);
        auto sink = caf::actor_cast<event_sink_actor>(self);
        self->request(session, self->state.timeout, atom::subscribe_v, sink,
                      events_from_now)
          .then([self, name, attempt](uint64_t) {
                  if (current(self, name, attempt) != nullptr)
                    read_snapshot(self, name, attempt);
                },
                [self, name, attempt](caf::error& err) {
                  if (auto h = current(self, name, attempt))
                    retry_later(self, *h, "cannot follow its events: "
                                            + describe(self->system(), err));
                });
      },
      [self, name, attempt](caf::error& err) {
        if (auto h = current(self, name, attempt))
          retry_later(self, *h, "refused: " + describe(self->system(), err));
      });
}

void connect(self_ptr self, const std::string& name) {
  auto i = self->state.hosts.find(name);
  if (i == self->state.hosts.end() || i->second.up)
    return;
  auto& host = i->second;
  auto attempt = ++host.attempt;
  self->request(self->state.middleman, self->state.timeout,
                caf::connect_atom::value,
                host.peer.host, host.peer.port)
    .then(
      [self, name, attempt](caf::node_id& node, caf::strong_actor_ptr& ptr,
                            std::set<std::string>& ifs) {
        auto h = current(self, name, attempt);
        if (h == nullptr)
          return;
        auto& sys = self->system();
        if (!ptr)
          return retry_later(self, *h, "no agent is published there");
        if (!sys.assignable<agent_gate_actor>(ifs))
          return retry_later(self, *h,
                             std::string{"refused: not an agent of protocol "}
                               + cluster_protocol);
        if (auto other = self->state.other_at(node, *h))
          return retry_later(self, *h, "refused: the same agent as "
                                         + other->peer.name);
        h->node = node; // Taken from here on: see other_at.
        open_session(self, name, attempt,
                     caf::actor_cast<agent_gate_actor>(std::move(ptr)));
      },
      [self, name, attempt](caf::error& err) {
        if (auto h = current(self, name, attempt))
          retry_later(self, *h, connect_failure(self, err));
      });
}

/// Sends a command to a host's agent and answers with its reply, or with an
/// error that names the host.
template <class R, class... Ts>
caf::result<R> forward(self_ptr self, std::chrono::milliseconds deadline,
                       const std::string& name, Ts&&... xs) {
  auto session = self->state.session_of(name);
  if (!session)
    return std::move(session.error());
  auto rp = self->make_response_promise<R>();
  self->request(*session, deadline, std::forward<Ts>(xs)...)
    .then([rp](R& reply) mutable { rp.deliver(std::move(reply)); },
          [self, rp, name](caf::error& err) mutable {
            if (err.category() == error_category()) {
              rp.deliver(make_error(code_of(err), name + ": " + message_of(err)));
              return;
            }
            auto code = code_of(err) == errc::timeout ? errc::timeout
                                                      : errc::unavailable;
            rp.deliver(make_error(code, name + ": "
                                          + describe(self->system(), err)));
          });
  return rp;
}

void on_events(self_ptr self, const event_batch& batch) {
  auto& sender = self->current_sender();
  auto h = sender ? self->state.by_node(sender->node()) : nullptr;
  if (h == nullptr)
    return;
  h->last_seen = caf::make_timestamp();
  for (auto& ev : batch.events) {
    auto data = json::parse(ev.data, nullptr, false);
    cluster_state::apply(*h, ev.kind, data);
    tell_hub(self, h->peer.name, {{"kind", ev.kind}, {"data", std::move(data)}});
  }
  // Fell behind the agent's history: what it missed is in a fresh view.
  if (batch.missed > 0 && h->up)
    read_snapshot(self, h->peer.name, h->attempt);
}

} // namespace

cluster_impl_actor::behavior_type
cluster(cluster_impl_actor::stateful_pointer<cluster_state> self,
        cluster_config cfg, event_hub_actor events,
        caf::io::middleman_actor middleman) {
  self->state = cluster_state{cfg};
  self->state.events = std::move(events);
  self->state.middleman = std::move(middleman);
  self->set_down_handler([self](const caf::down_msg& msg) {
    if (auto h = self->state.by_session(msg.source))
      retry_later(self, *h, "connection lost");
  });
  for (auto& entry : self->state.hosts)
    connect(self, entry.first);
  return {
    [self](atom::get) { return self->state.view(); },
    [self](atom::start a, const std::string& host, run_spec& spec) {
      return forward<run_record>(self, self->state.start_timeout, host, a,
                                 std::move(spec));
    },
    [self](atom::stop a, const std::string& host, std::string& id,
           std::string& by) {
      return forward<run_record>(self, self->state.stop_timeout, host, a,
                                 std::move(id), std::move(by));
    },
    [self](atom::enqueue a, const std::string& host, run_spec& spec) {
      return forward<run_record>(self, self->state.start_timeout, host, a,
                                 std::move(spec));
    },
    [self](atom::list a, const std::string& host) {
      return forward<std::vector<run_record>>(self, self->state.timeout, host,
                                              a);
    },
    [self](atom::cancel a, const std::string& host, std::string& id) {
      return forward<run_record>(self, self->state.timeout, host, a,
                                 std::move(id));
    },
    [self](atom::history a, const std::string& host, history_query& q) {
      return forward<std::vector<run_record>>(self, self->state.timeout, host,
                                              a, std::move(q));
    },
    [self](atom::get a, const std::string& host, std::string& id) {
      return forward<run_record>(self, self->state.timeout, host, a,
                                 std::move(id));
    },
    [self](atom::read a, const std::string& host, std::string& id,
           uint64_t offset) {
      return forward<log_chunk>(self, self->state.timeout, host, a,
                                std::move(id), offset);
    },
    [self](atom::snapshot a, const std::string& host, std::string& prefix) {
      return forward<kv_snapshot>(self, self->state.timeout, host, a,
                                  std::move(prefix));
    },
    [self](atom::fetch a, const std::string& host, std::string& key) {
      return forward<kv_entry>(self, self->state.timeout, host, a,
                               std::move(key));
    },
    [self](atom::set a, const std::string& host, std::string& key,
           json& value) {
      return forward<uint64_t>(self, self->state.timeout, host, a,
                               std::move(key), std::move(value));
    },
    [self](atom::set a, const std::string& host, std::string& key, json& value,
           uint64_t expected) {
      return forward<uint64_t>(self, self->state.timeout, host, a,
                               std::move(key), std::move(value), expected);
    },
    [self](atom::erase a, const std::string& host, std::string& key) {
      return forward<bool>(self, self->state.timeout, host, a, std::move(key));
    },
    [self](atom::erase a, const std::string& host, std::string& key,
           uint64_t expected) {
      return forward<bool>(self, self->state.timeout, host, a, std::move(key),
                           expected);
    },
    [self](const event_batch& batch) { on_events(self, batch); },
    [self](atom::connect, const std::string& host) { connect(self, host); },
  };
}

} // namespace labrt
