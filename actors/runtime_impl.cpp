// Spawns the runtime's actors, connects them and stops them in order.
#include "actors/runtime_impl.hpp"

#include <limits>

#include <caf/actor_registry.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <caf/io/middleman.hpp>

#include "actors/event_hub.hpp"
#include "actors/kv_store.hpp"
#include "actors/monitor.hpp"
#include "actors/test_runner.hpp"
#include "actors/tls_transport.hpp"
#include "labrt/errc.hpp"
#include "src/receive_until.hpp"

namespace labrt {

namespace {

caf::actor_system_config make_caf_config(const runtime_config& cfg) {
  caf::actor_system_config result;
  // CAF's default on a 2-core machine is 4 workers, which cost latency.
  result.set("scheduler.max-threads", scheduler_threads(cfg));
  auto& sched = cfg.scheduler;
  result.set("work-stealing.aggressive-poll-attempts", sched.spin_polls);
  result.set("work-stealing.moderate-poll-attempts", sched.sleeping_polls);
  result.set("work-stealing.moderate-sleep-duration",
             caf::timespan{sched.poll_sleep});
  result.set("work-stealing.relaxed-sleep-duration",
             caf::timespan{sched.deep_sleep});
  result.add_error_category(
    error_category(), [](uint8_t code, caf::atom_value, const caf::message&
                                                           ctx) -> std::string {
      std::string text = to_string(static_cast<errc>(code));
      if (ctx.size() >= 1 && ctx.match_element<std::string>(0))
        text += ": " + ctx.get_as<std::string>(0);
      return text;
    });
  if (cfg.cluster.enabled())
    configure_cluster(result);
  return result;
}

} // namespace

runtime::impl::impl(runtime_config config, std::shared_ptr<store_db> db,
                    kv_image image, std::vector<queued_run> queue)
  : cfg(std::move(config)), caf_cfg(make_caf_config(cfg)), sys(caf_cfg) {
  if (db) {
    store = sys.spawn<caf::detached>(persistence, std::move(db),
                                     cfg.history);
    kv = sys.spawn(durable_kv_store, cfg.bounds, cfg.history_capacity,
                   std::move(image), store);
    storage = store;
  } else {
    kv = sys.spawn(kv_store, cfg.bounds, cfg.history_capacity);
  }
  status = sys.spawn(service_status, cfg.service_defaults, cfg.bounds,
                     cfg.history_capacity);
  services = status;
  slot = sys.spawn(labrt::test_execution, cfg.bounds, cfg.history_capacity);
  tests = slot;
  service_monitor = sys.spawn(labrt::monitor, status, cfg.monitor.services,
                              std::chrono::milliseconds{
                                cfg.monitor.interval_ms});
  if (cfg.runner.enabled && store)
    runner = sys.spawn(durable_test_runner, cfg.runner, slot, store,
                       std::move(queue));
  else if (cfg.runner.enabled)
    runner = sys.spawn(test_runner, cfg.runner, slot);
}

runtime::impl::~impl() {
  shutdown(); // A no-op after runtime::shutdown.
}

caf::error runtime::impl::record_services() {
  if (!store)
    return caf::none;
  caf::scoped_actor self{sys};
  caf::error failure;
  self
    ->request(services, std::chrono::seconds{10}, atom::subscribe_v,
              caf::actor_cast<subscriber_actor>(store),
              std::numeric_limits<uint64_t>::max())
    .receive([](const subscription&) {},
             [&](caf::error& err) { failure = std::move(err); });
  return failure;
}

caf::error runtime::impl::start_hub() {
  if (!cfg.event_hub)
    return caf::none;
  // Ids from the clock: they go on growing after a restart (event_hub.hpp).
  auto first_id = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count());
  // On a thread of its own: CAF's worker runs an actor woken from another
  // scheduled actor before every actor woken from outside (its queue is
  // LIFO for them), so runner -> hub -> runner output traffic on the worker
  // starved the API's requests for as long as a run printed. Detached, the
  // hub's answers wake the runner from outside, behind those requests, and
  // its JSON work is off the worker.
  hub = sys.spawn<caf::detached>(event_hub, cfg.event_capacity,
                                 cfg.event_max_bytes, first_id);
  caf::scoped_actor self{sys};
  caf::error failure;
  auto on_error = [&](caf::error& err) { failure = std::move(err); };
  auto as_subscriber = caf::actor_cast<subscriber_actor>(hub);
  auto follow = [&](const auto& manager) {
    if (!failure)
      self->request(manager, std::chrono::seconds{10}, atom::subscribe_v,
                    as_subscriber, uint64_t{0})
        .receive([](const subscription&) {}, on_error);
  };
  follow(kv);
  follow(services);
  follow(tests);
  if (runner && !failure)
    self->request(runner, std::chrono::seconds{10}, atom::subscribe_v,
                  caf::actor_cast<run_output_actor>(hub))
      .receive([](const std::string&) {}, on_error);
  return failure;
}

caf::error runtime::impl::start_cluster() {
  auto& cl = cfg.cluster;
  if (!cl.enabled())
    return caf::none; // No middleman was loaded.
  auto mm = sys.middleman().actor_handle();
  if (cl.tls.enabled()) {
    auto made = spawn_tls_middleman(sys, cl.tls);
    if (!made)
      return std::move(made.error());
    mm = tls_middleman = std::move(*made);
  }
  if (!cl.publish_host.empty()) {
    gate = sys.spawn(agent_gate, agent_targets{kv, services, tests, runner, hub},
                     cl.secret);
    // SO_REUSEADDR only (not a shared port): a restarted agent gets its
    // port back while the old connections linger in TIME_WAIT.
    caf::scoped_actor self{sys};
    caf::error failure;
    self->request(mm, std::chrono::seconds{10}, caf::publish_atom::value,
                  cl.publish_port, caf::actor_cast<caf::strong_actor_ptr>(gate),
                  sys.message_types(gate), cl.publish_host, true)
      .receive([&](uint16_t port) { agent_port = port; },
               [&](caf::error& err) { failure = std::move(err); });
    if (failure)
      return make_error(errc::invalid_argument,
                        "cluster.publish: cannot listen on "
                          + cl.publish_host + ":"
                          + std::to_string(cl.publish_port) + ": "
                          + sys.render(failure));
  }
  if (!cl.peers.empty())
    orchestrator = sys.spawn(labrt::cluster, cl, hub, mm);
  return caf::none;
}

void runtime::impl::stop_runner() {
  if (!runner)
    return;
  caf::scoped_actor self{sys};
  self->monitor(runner);
  self->send_exit(runner, caf::exit_reason::user_shutdown);
  auto patience = std::chrono::milliseconds{cfg.runner.grace_ms}
                  + std::chrono::seconds{10};
  bool down = receive_within(patience, [&](auto wait) {
    self->receive([](caf::down_msg&) {}, std::move(wait));
  });
  if (!down)
    self->send_exit(runner, caf::exit_reason::kill);
  runner = nullptr;
}

void runtime::impl::shutdown() {
  logger_release release; // stop_runner's scoped_actor.
  stop_runner();
  // ~actor_system waits for every actor, so each must be told to stop.
  for (auto& a : {caf::actor_cast<caf::actor>(orchestrator),
                  caf::actor_cast<caf::actor>(gate),
                  caf::actor_cast<caf::actor>(tls_middleman),
                  caf::actor_cast<caf::actor>(hub),
                  caf::actor_cast<caf::actor>(service_monitor),
                  caf::actor_cast<caf::actor>(kv),
                  caf::actor_cast<caf::actor>(services),
                  caf::actor_cast<caf::actor>(tests)})
    if (a) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      // An actor whose handle crossed the network sits in CAF's registry;
      // a detached one there (the hub) can hold ~actor_system forever in
      // CAF 0.17 unless it is taken out (CAF issues 1110 and 1196).
      sys.registry().erase(a->id());
    }
  // Last, after a round trip: an exit message overtakes the mailbox, so
  // the writes queued before (the runner's last records) are done first.
  if (store) {
    caf::scoped_actor self{sys};
    self->request(store, std::chrono::seconds{10}, atom::storage_v)
      .receive([](const json&) {}, [](const caf::error&) {});
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  }
  orchestrator = nullptr;
  gate = nullptr;
  tls_middleman = nullptr;
  store = nullptr;
  storage = nullptr;
  hub = nullptr;
  service_monitor = nullptr;
  kv = nullptr;
  services = nullptr;
  status = nullptr;
  tests = nullptr;
  slot = nullptr;
}

} // namespace labrt
