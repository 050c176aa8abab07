// Assembles the runtime: the actor system and the managers it spawns.
#include "labrt/runtime.hpp"

#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include "kv_store.hpp"
#include "labrt/errc.hpp"
#include "service_status.hpp"
#include "test_execution.hpp"

namespace labrt {

namespace {

caf::actor_system_config make_caf_config(const runtime_config& cfg) {
  caf::actor_system_config result;
  // CAF's default on a 2-core machine is 4 workers, which doubled latency.
  auto threads = cfg.max_threads != 0
                   ? cfg.max_threads
                   : std::max(1u, std::thread::hardware_concurrency());
  result.set("scheduler.max-threads", threads);
  result.add_error_category(
    error_category(), [](uint8_t code, caf::atom_value, const caf::message&
                                                           ctx) -> std::string {
      std::string text = to_string(static_cast<errc>(code));
      if (ctx.size() >= 1 && ctx.match_element<std::string>(0))
        text += ": " + ctx.get_as<std::string>(0);
      return text;
    });
  return result;
}

} // namespace

struct runtime::impl {
  explicit impl(runtime_config config)
    : cfg(std::move(config)), caf_cfg(make_caf_config(cfg)), sys(caf_cfg) {
    kv = sys.spawn(kv_store, cfg.bounds, cfg.history_capacity);
    services = sys.spawn(service_status, cfg.service_defaults, cfg.bounds,
                         cfg.history_capacity);
    tests = sys.spawn(test_execution, cfg.bounds, cfg.history_capacity);
  }

  void shutdown() {
    // ~actor_system waits for every actor, so each must be told to stop.
    for (auto& a : {caf::actor_cast<caf::actor>(kv),
                    caf::actor_cast<caf::actor>(services),
                    caf::actor_cast<caf::actor>(tests)})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    kv = nullptr;
    services = nullptr;
    tests = nullptr;
  }

  runtime_config cfg;
  caf::actor_system_config caf_cfg;
  caf::actor_system sys;
  kv_store_actor kv;
  service_status_actor services;
  test_execution_actor tests;
};

caf::expected<std::unique_ptr<runtime>> runtime::make(runtime_config cfg) {
  // Check the defaults before any thread starts, so a bad config changes nothing.
  service_status_state probe;
  if (auto err = probe.init(cfg.service_defaults, cfg.bounds))
    return err;
  if (cfg.history_capacity == 0)
    return make_error(errc::invalid_argument, "history_capacity must be > 0");
  return std::unique_ptr<runtime>{
    new runtime(std::make_unique<impl>(std::move(cfg)))};
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

const test_execution_actor& runtime::tests() const noexcept {
  return impl_->tests;
}

void runtime::shutdown() {
  impl_->shutdown();
}

} // namespace labrt
