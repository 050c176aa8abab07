// The agent: the gate an orchestrator opens with the cluster secret, and the
// session behind it that forwards each command to this runtime's actors.
#include "actors/agent.hpp"

#include <chrono>
#include <memory>

#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "labrt/errc.hpp"
#include "src/log_read.hpp"
#include "src/sys_util.hpp"

namespace labrt {

void configure_cluster(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.app-identifiers",
          std::vector<std::string>{cluster_protocol});
  // A peer that vanished without a reset (a cable, a frozen host) is
  // dropped once five heartbeats in a row are missing: down within 1.5 s.
  cfg.set("middleman.heartbeat-interval",
          caf::timespan{std::chrono::milliseconds{250}});
  cfg.set("middleman.connection-timeout",
          caf::timespan{std::chrono::milliseconds{1250}});
  // The protocol in every name: CAF compares interfaces by these names.
  cfg.add_message_type<json>("labrt-3.json");
  cfg.add_message_type<run_spec>("labrt-3.run_spec");
  cfg.add_message_type<run_record>("labrt-3.run_record");
  cfg.add_message_type<std::vector<run_record>>("labrt-3.run_records");
  cfg.add_message_type<history_query>("labrt-3.history_query");
  cfg.add_message_type<event>("labrt-3.event");
  cfg.add_message_type<event_batch>("labrt-3.event_batch");
  cfg.add_message_type<event_sink_actor>("labrt-3.event_sink");
  cfg.add_message_type<kv_entry>("labrt-3.kv_entry");
  cfg.add_message_type<kv_snapshot>("labrt-3.kv_snapshot");
  cfg.add_message_type<log_chunk>("labrt-3.log_chunk");
  cfg.add_message_type<agent_actor>("labrt-3.agent");
}

namespace {

constexpr auto ask_timeout = std::chrono::seconds{10};

/// Gathers the host's view from four actors into one reply.
struct snapshot_join {
  caf::typed_response_promise<json> promise;
  json view = {{"run", nullptr}, {"queue", json::array()}};
  int pending = 0;

  void done(const char* key, json value) {
    view[key] = std::move(value);
    if (--pending == 0)
      promise.deliver(std::move(view));
  }
  void fail(caf::error err) {
    if (pending > 0) {
      pending = 0;
      promise.deliver(std::move(err));
    }
  }
};

template <class Self>
caf::typed_response_promise<json> snapshot(Self* self,
                                           const agent_targets& to) {
  auto join = std::make_shared<snapshot_join>();
  join->promise = self->template make_response_promise<json>();
  join->pending = to.runner ? 4 : 2;
  auto fail = [join](caf::error& err) { join->fail(std::move(err)); };
  self->request(to.services, ask_timeout, atom::get_all_v)
    .then([join](json& all) { join->done("services", std::move(all)); }, fail);
  self->request(to.tests, ask_timeout, atom::get_all_v)
    .then([join](json& all) { join->done("test", std::move(all)); }, fail);
  if (!to.runner)
    return join->promise;
  self->request(to.runner, ask_timeout, atom::get_v)
    .then([join](run_record& rec) { join->done("run", json(rec)); },
          [join](caf::error& err) {
            // Idle is a state, not a failure.
            if (code_of(err) == errc::not_running)
              join->done("run", nullptr);
            else
              join->fail(std::move(err));
          });
  self->request(to.runner, ask_timeout, atom::list_v)
    .then([join](std::vector<run_record>& queue) {
            join->done("queue", json(queue));
          },
          fail);
  return join->promise;
}

/// Reads log files for the sessions, off the scheduler: a file read may
/// block on a slow disk.
using log_reader_actor = caf::typed_actor<
  caf::replies_to<atom::read, run_record, uint64_t>::with<log_chunk>>;

log_reader_actor::behavior_type log_reader(log_reader_actor::pointer,
                                           size_t chunk) {
  return {
    [chunk](atom::read, run_record& rec, uint64_t offset) {
      return read_log_chunk(std::move(rec), offset, chunk);
    },
  };
}

/// The record of run `id` ("" = the current run, or else the last), then
/// its log from `offset`.
caf::typed_response_promise<log_chunk>
read_log(agent_actor::pointer self, const agent_targets& to,
         const log_reader_actor& reader, std::string id, uint64_t offset) {
  auto rp = self->make_response_promise<log_chunk>();
  auto fail = [rp](caf::error& err) mutable { rp.deliver(std::move(err)); };
  auto read = [self, rp, reader, offset, fail](run_record& rec) mutable {
    self->request(reader, ask_timeout, atom::read_v, std::move(rec), offset)
      .then([rp](log_chunk& chunk) mutable { rp.deliver(std::move(chunk)); },
            fail);
  };
  if (!id.empty()) {
    self->request(to.runner, ask_timeout, atom::get_v, std::move(id))
      .then(read, fail);
    return rp;
  }
  auto runner = to.runner;
  self->request(runner, ask_timeout, atom::get_v)
    .then(read, [self, runner, read, fail](caf::error& err) mutable {
      if (code_of(err) != errc::not_running)
        return fail(err);
      self->request(runner, ask_timeout, atom::history_v, uint64_t{1})
        .then(
          [read, fail](std::vector<run_record>& last) mutable {
            if (!last.empty())
              return read(last.front());
            auto none = make_error(errc::not_found, "no run yet");
            fail(none);
          },
          fail);
    });
  return rp;
}

/// Answers only messages from the node that opened it: a handle that leaked
/// to another node opens nothing.
agent_actor::behavior_type agent_session(agent_actor::pointer self,
                                         agent_targets to,
                                         log_reader_actor reader,
                                         const caf::strong_actor_ptr& opener) {
  auto peer = opener->node();
  // The orchestrator's node is gone: so is its session.
  self->monitor(opener);
  self->set_down_handler([self](const caf::down_msg&) { self->quit(); });
  // Why a message is refused, or none: another node's, or one for a
  // runner this agent does not have.
  auto refusal = [self, peer, has_runner = bool{to.runner}](bool needs_runner) {
    auto& sender = self->current_sender();
    if (sender == nullptr || sender->node() != peer)
      return make_error(errc::forbidden, "this session belongs to another node");
    if (needs_runner && !has_runner)
      return make_error(errc::not_found, "the agent has no test runner");
    return caf::error{};
  };
  return {
    [=](atom::get) -> caf::result<json> {
      if (auto err = refusal(false))
        return err;
      return snapshot(self, to);
    },
    [=](atom::subscribe a, event_sink_actor& sink,
        uint64_t after) -> caf::result<uint64_t> {
      if (auto err = refusal(false))
        return err;
      return self->delegate(to.events, a, std::move(sink), after);
    },
    [=](atom::start a, run_spec& spec) -> caf::result<run_record> {
      if (auto err = refusal(true))
        return err;
      return self->delegate(to.runner, a, std::move(spec));
    },
    [=](atom::stop a, std::string& id,
        std::string& by) -> caf::result<run_record> {
      if (auto err = refusal(true))
        return err;
      return self->delegate(to.runner, a, std::move(id), std::move(by));
    },
    [=](atom::enqueue a, run_spec& spec) -> caf::result<run_record> {
      if (auto err = refusal(true))
        return err;
      return self->delegate(to.runner, a, std::move(spec));
    },
    [=](atom::list a) -> caf::result<std::vector<run_record>> {
      if (auto err = refusal(false))
        return err;
      if (!to.runner)
        return std::vector<run_record>{};
      return self->delegate(to.runner, a);
    },
    [=](atom::cancel a, std::string& id) -> caf::result<run_record> {
      if (auto err = refusal(true))
        return err;
      return self->delegate(to.runner, a, std::move(id));
    },
    [=](atom::history a,
        history_query& q) -> caf::result<std::vector<run_record>> {
      if (auto err = refusal(false))
        return err;
      if (!to.runner)
        return std::vector<run_record>{};
      return self->delegate(to.runner, a, std::move(q));
    },
    [=](atom::get a, std::string& id) -> caf::result<run_record> {
      if (auto err = refusal(true))
        return err;
      return self->delegate(to.runner, a, std::move(id));
    },
    [=](atom::read, std::string& id, uint64_t offset) -> caf::result<log_chunk> {
      if (auto err = refusal(true))
        return err;
      return read_log(self, to, reader, std::move(id), offset);
    },
    [=](atom::snapshot a, std::string& prefix) -> caf::result<kv_snapshot> {
      if (auto err = refusal(false))
        return err;
      return self->delegate(to.kv, a, std::move(prefix));
    },
    [=](atom::fetch a, std::string& key) -> caf::result<kv_entry> {
      if (auto err = refusal(false))
        return err;
      return self->delegate(to.kv, a, std::move(key));
    },
    [=](atom::set a, std::string& key, json& value) -> caf::result<uint64_t> {
      if (auto err = refusal(false))
        return err;
      return self->delegate(to.kv, a, std::move(key), std::move(value));
    },
    [=](atom::set a, std::string& key, json& value,
        uint64_t expected) -> caf::result<uint64_t> {
      if (auto err = refusal(false))
        return err;
      return self->delegate(to.kv, a, std::move(key), std::move(value),
                            expected);
    },
    [=](atom::erase a, std::string& key) -> caf::result<bool> {
      if (auto err = refusal(false))
        return err;
      return self->delegate(to.kv, a, std::move(key));
    },
    [=](atom::erase a, std::string& key,
        uint64_t expected) -> caf::result<bool> {
      if (auto err = refusal(false))
        return err;
      return self->delegate(to.kv, a, std::move(key), expected);
    },
  };
}

} // namespace

agent_gate_actor::behavior_type
agent_gate(agent_gate_actor::stateful_pointer<agent_gate_state> self,
           agent_targets targets, std::string secret) {
  // One for every session: following a log is a chunk now and then.
  auto reader = self->spawn<caf::detached + caf::linked>(log_reader,
                                                         log_chunk_max);
  self->set_down_handler([self](const caf::down_msg& msg) {
    auto& open = self->state.sessions;
    for (auto i = open.begin(); i != open.end(); ++i)
      if (i->second.address() == msg.source)
        return void(open.erase(i));
  });
  return {
    [=](atom::open, const std::string& shown) -> caf::result<agent_actor> {
      auto& sender = self->current_sender();
      if (sender == nullptr)
        return make_error(errc::invalid_argument, "an open needs a sender");
      if (!same_secret(shown, secret))
        return make_error(errc::forbidden, "wrong cluster secret");
      auto& held = self->state.sessions[sender->address()];
      if (held) {
        // Unlinked first: its exit must not end the gate.
        self->unlink_from(held);
        self->send_exit(held, caf::exit_reason::user_shutdown);
      }
      // Linked: the gate's exit at shutdown ends every session.
      held = self->spawn<caf::linked>(agent_session, targets, reader, sender);
      self->monitor(held);
      return held;
    },
  };
}

} // namespace labrt
