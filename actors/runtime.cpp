// Assembles the runtime: the actor system and the managers it spawns.
#include "labrt/runtime.hpp"

#include <limits>

#include <caf/actor_system.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/logger.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <caf/io/middleman.hpp>

#include "actors/agent.hpp"
#include "actors/anchor.hpp"
#include "actors/cluster.hpp"
#include "actors/event_hub.hpp"
#include "actors/kv_store.hpp"
#include "actors/tls_transport.hpp"
#include "actors/persistence.hpp"
#include "labrt/errc.hpp"
#include "actors/monitor.hpp"
#include "src/receive_until.hpp"
#include "src/service_rules.hpp"
#include "src/tls_check.hpp"
#include "actors/service_status.hpp"
#include "actors/test_execution.hpp"
#include "actors/test_runner.hpp"

namespace labrt {

void release_thread_logger() noexcept {
  caf::logger::set_current_actor_system(nullptr);
}

namespace {

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

struct runtime::impl {
  impl(runtime_config config, std::shared_ptr<store_db> db, kv_image image,
       std::vector<queued_run> queue)
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

  /// Subscribes the database to the service manager, so that every status
  /// transition is recorded; from now on (the defaults are no transition).
  caf::error record_services() {
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

  /// Spawns the event hub and subscribes it to every source, waiting for
  /// each answer: once `make` returns, no change escapes it.
  caf::error start_hub() {
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

  /// Publishes this runtime's agent and starts following the configured
  /// agents; a port that cannot be bound is a start error.
  caf::error start_cluster() {
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

  ~impl() {
    shutdown(); // A no-op after runtime::shutdown.
  }

  /// Stops the runner first, while test_execution still records the end of
  /// its run: it stops the current run (TERM, grace, KILL) or leaves it, per
  /// config, and terminates when done.
  void stop_runner() {
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

  void shutdown() {
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

caf::expected<std::unique_ptr<runtime>> runtime::make(runtime_config cfg) {
  // The actor system, the spawns and start_hub's scoped_actor each leave
  // this thread a reference that would block ~actor_system on another.
  logger_release release;
  // Check the defaults before any thread starts, so a bad config changes nothing.
  service_status_state probe;
  if (auto err = probe.init(cfg.service_defaults, cfg.bounds))
    return err;
  if (auto err = check_monitor_config(cfg.monitor))
    return err;
  if (cfg.history_capacity == 0 || cfg.event_capacity == 0)
    return make_error(errc::invalid_argument,
                      "history_capacity and event_capacity must be > 0");
  if (cfg.runner.grace_ms < 0 || cfg.runner.timeout_ms < 0)
    return make_error(errc::invalid_argument,
                      "runner.grace_ms and runner.timeout_ms must be >= 0");
  if (cfg.runner.log_max_bytes == 0)
    return make_error(errc::invalid_argument,
                      "runner.log_max_bytes must be > 0");
  if (auto& cl = cfg.cluster; cl.enabled()) {
    if (!cl.tls.enabled() && cl.secret.size() < cluster_config::min_secret_bytes)
      return make_error(errc::invalid_argument,
                        "cluster.secret must have at least "
                          + std::to_string(cluster_config::min_secret_bytes)
                          + " characters");
    if (cl.tls.enabled())
      if (auto err = check_tls(cl.tls))
        return err;
  }
  // An agent serves its events to the orchestrator.
  if (!cfg.cluster.publish_host.empty())
    cfg.event_hub = true;
  // Read here, before any actor runs: a database that cannot be opened,
  // read or written is a start error naming the file.
  std::shared_ptr<store_db> db;
  kv_image image;
  std::vector<queued_run> queue;
  if (!cfg.state_dir.empty()) {
    auto opened = store_db::open(cfg.state_dir);
    if (!opened)
      return std::move(opened.error());
    auto loaded = opened->load_kv();
    if (!loaded)
      return std::move(loaded.error());
    image = std::move(*loaded);
    auto kept = opened->load_queue();
    if (!kept)
      return std::move(kept.error());
    queue = std::move(*kept);
    db = std::make_shared<store_db>(std::move(*opened));
  }
  auto d = std::make_unique<impl>(std::move(cfg), std::move(db),
                                  std::move(image), std::move(queue));
  if (auto err = d->start_hub())
    return err; // ~impl stops what was spawned.
  if (auto err = d->record_services())
    return err;
  if (auto err = d->start_cluster())
    return err;
  return std::unique_ptr<runtime>{new runtime(std::move(d))};
}

runtime::runtime(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

runtime::~runtime() {
  shutdown();
}

caf::actor_system& runtime::system() noexcept {
  return impl_->sys;
}

const runtime_config& runtime::config() const noexcept {
  return impl_->cfg;
}

const kv_store_actor& runtime::kv() const noexcept {
  return impl_->kv;
}

const service_status_actor& runtime::services() const noexcept {
  return impl_->services;
}

const test_execution_actor& runtime::test_execution() const noexcept {
  return impl_->tests;
}

const test_runner_actor& runtime::runner() const noexcept {
  return impl_->runner;
}

const monitor_actor& runtime::monitor() const noexcept {
  return impl_->service_monitor;
}

const event_hub_actor& runtime::events() const noexcept {
  return impl_->hub;
}

const storage_actor& runtime::storage() const noexcept {
  return impl_->storage;
}

const cluster_actor& runtime::cluster() const noexcept {
  return impl_->orchestrator;
}

uint16_t runtime::agent_port() const noexcept {
  return impl_->agent_port;
}

caf::expected<kv_store_actor> runtime::spawn_kv() {
  logger_release release;
  auto& d = *impl_;
  return tie_to(d.kv, d.sys.spawn(kv_store, d.cfg.bounds, d.cfg.history_capacity));
}

caf::expected<service_status_actor> runtime::spawn_services() {
  logger_release release;
  auto& d = *impl_;
  service_status_actor extra = d.sys.spawn(service_status, d.cfg.service_defaults,
                                           d.cfg.bounds, d.cfg.history_capacity);
  return tie_to(d.kv, std::move(extra));
}

caf::expected<test_execution_actor> runtime::spawn_test_execution() {
  logger_release release;
  auto& d = *impl_;
  test_execution_actor extra = d.sys.spawn(labrt::test_execution, d.cfg.bounds,
                                           d.cfg.history_capacity);
  return tie_to(d.kv, std::move(extra));
}

void runtime::shutdown() {
  impl_->shutdown();
}

} // namespace labrt
