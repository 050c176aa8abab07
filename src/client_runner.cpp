// The runner's and the monitor's facades of labrt::client.
#include "src/client_impl.hpp"

namespace labrt {

// -- runner -------------------------------------------------------------------

namespace {

template <class R, class... Ts>
caf::expected<R> call_runner(client& c, std::chrono::milliseconds timeout,
                             Ts&&... xs) {
  auto& d = client_access::of(c);
  if (!d.rt.runner())
    return d.rt.config().runner.enabled
             ? make_error(errc::shutting_down, "the runtime has shut down")
             : make_error(errc::not_found, "the runtime has no test runner");
  return d.template call_for<R>(timeout.count() == 0 ? d.timeout : timeout,
                                d.rt.runner(),
                                std::forward<Ts>(xs)...);
}

/// Spawning may take a moment on a loaded machine; stopping takes the grace.
std::chrono::milliseconds start_timeout() {
  return std::chrono::seconds{30};
}

std::chrono::milliseconds stop_timeout(client& c) {
  return std::chrono::milliseconds{client_access::of(c).rt.config().runner.grace_ms}
         + std::chrono::seconds{10};
}

} // namespace

caf::expected<run_record> runner_facade::start(run_spec spec) {
  return call_runner<run_record>(client_, start_timeout(), atom::start_v,
                                 std::move(spec));
}

caf::expected<run_record> runner_facade::stop(const std::string& run_id,
                                              const std::string& by) {
  return call_runner<run_record>(client_, stop_timeout(client_), atom::stop_v,
                                 run_id, by);
}

caf::expected<run_record> runner_facade::status() {
  return call_runner<run_record>(client_, {}, atom::get_v);
}

caf::expected<run_record> runner_facade::get(const std::string& run_id) {
  return call_runner<run_record>(client_, {}, atom::get_v, run_id);
}

caf::expected<run_record> runner_facade::wait(const std::string& run_id,
                                              std::chrono::milliseconds timeout) {
  return call_runner<run_record>(client_, timeout, atom::wait_v, run_id);
}

caf::expected<run_record> runner_facade::enqueue(run_spec spec) {
  return call_runner<run_record>(client_, start_timeout(), atom::enqueue_v,
                                 std::move(spec));
}

caf::expected<std::vector<run_record>> runner_facade::queue() {
  return call_runner<std::vector<run_record>>(client_, {}, atom::list_v);
}

caf::expected<run_record> runner_facade::cancel(const std::string& run_id) {
  return call_runner<run_record>(client_, {}, atom::cancel_v, run_id);
}

caf::expected<std::vector<run_record>> runner_facade::history(uint64_t n) {
  return call_runner<std::vector<run_record>>(client_, {}, atom::history_v, n);
}

caf::expected<std::vector<run_record>>
runner_facade::history(const history_query& q) {
  return call_runner<std::vector<run_record>>(client_, {}, atom::history_v, q);
}

caf::expected<json> runner_facade::metrics() {
  return call_runner<json>(client_, {}, atom::metrics_v);
}

// -- monitor ------------------------------------------------------------------

namespace {

template <class R, class... Ts>
caf::expected<R> call_monitor(client& c, Ts&&... xs) {
  auto& d = client_access::of(c);
  return d.template call<R>(d.rt.monitor(), std::forward<Ts>(xs)...);
}

} // namespace

caf::expected<bool> monitor_facade::add(service_rule rule) {
  return call_monitor<bool>(client_, atom::add_v, std::move(rule));
}

caf::expected<bool> monitor_facade::remove(const std::string& name) {
  return call_monitor<bool>(client_, atom::erase_v, name);
}

caf::expected<std::vector<service_rule>> monitor_facade::rules() {
  return call_monitor<std::vector<service_rule>>(client_, atom::list_v);
}

caf::expected<std::vector<service_record>> monitor_facade::scan() {
  return call_monitor<std::vector<service_record>>(client_, atom::scan_v);
}

caf::expected<json> monitor_facade::metrics() {
  return call_monitor<json>(client_, atom::metrics_v);
}

} // namespace labrt
