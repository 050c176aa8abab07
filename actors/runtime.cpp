// labrt::runtime: checks a config, opens the database and assembles the
// actors (actors/runtime_impl.cpp); the handles an embedder asks for.
#include "labrt/runtime.hpp"

#include <caf/logger.hpp>

#include "actors/anchor.hpp"
#include "actors/kv_store.hpp"
#include "actors/runtime_impl.hpp"
#include "labrt/errc.hpp"
#include "src/service_rules.hpp"
#include "src/tls_check.hpp"

namespace labrt {

void release_thread_logger() noexcept {
  caf::logger::set_current_actor_system(nullptr);
}

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
