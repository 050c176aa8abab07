#include "labrt/client.hpp"

#include <algorithm>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "labrt/errc.hpp"
#include "labrt/interfaces.hpp"
#include "labrt/runtime.hpp"

namespace labrt {

struct client::impl {
  impl(runtime& r, std::chrono::milliseconds t)
    : rt(r), self(r.system()), timeout(t) {
  }

  /// One blocking request; a timeout or a dead manager comes back as an error.
  ///
  /// CAF 0.17's own request timeout is not used: a blocking actor never
  /// cancels it, so every answered request leaves a stale timeout message in
  /// the mailbox that each later receive must skip: throughput falls with
  /// every call made (bench/README.md).
  /// Waiting with `after` on the response id costs nothing per call.
  template <class R, class Handle, class... Ts>
  caf::expected<R> call(const Handle& dest, Ts&&... xs) {
    return call_for<R>(timeout, dest, std::forward<Ts>(xs)...);
  }

  /// `call` with its own timeout, for calls that may take long.
  template <class R, class Handle, class... Ts>
  caf::expected<R> call_for(std::chrono::milliseconds limit,
                            const Handle& dest, Ts&&... xs) {
    if (!dest)
      return make_error(errc::shutting_down, "the runtime has shut down");
    caf::expected<R> result{make_error(errc::timeout, "no response")};
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    caf::blocking_actor::accept_one_cond cond;
    self->varargs_receive(
      cond, handle.id(), [&](R& x) { result = std::move(x); },
      [&](caf::error& err) { result = std::move(err); },
      caf::after(limit) >> [&] {
        result = make_error(errc::timeout, "no response within "
                                            + std::to_string(limit.count())
                                            + " ms");
      });
    return result;
  }

  runtime& rt;
  caf::scoped_actor self;
  std::chrono::milliseconds timeout;
};

/// The facades' way in to a client's impl.
struct client_access {
  static client::impl& of(client& c) noexcept {
    return *c.impl_;
  }
};

client::client(runtime& rt, std::chrono::milliseconds timeout)
  : impl_(std::make_unique<impl>(rt, timeout)), kv_(*this), services_(*this),
    tests_(*this), runner_(*this), monitor_(*this) {
  // nop
}

client::~client() = default;

namespace {

template <class R, class... Ts>
caf::expected<R> call_kv(client& c, Ts&&... xs) {
  auto& d = client_access::of(c);
  return d.template call<R>(d.rt.kv(), std::forward<Ts>(xs)...);
}

template <class R, class... Ts>
caf::expected<R> call_services(client& c, Ts&&... xs) {
  auto& d = client_access::of(c);
  return d.template call<R>(d.rt.services(), std::forward<Ts>(xs)...);
}

template <class R, class... Ts>
caf::expected<R> call_tests(client& c, Ts&&... xs) {
  auto& d = client_access::of(c);
  return d.template call<R>(d.rt.test_execution(), std::forward<Ts>(xs)...);
}

using events = std::vector<change_event>;

} // namespace

// -- shared by all managers -------------------------------------------------

namespace {

feed_actor feed_of(client& c, manager_facade::manager which) {
  auto& rt = client_access::of(c).rt;
  switch (which) {
    case manager_facade::manager::kv: return rt.kv();
    case manager_facade::manager::services: return rt.services();
    default: return rt.test_execution();
  }
}

} // namespace

caf::expected<events> manager_facade::history(uint64_t since) {
  return client_access::of(client_).call<events>(
    feed_of(client_, manager_), atom::history_v, since);
}

caf::expected<json> manager_facade::metrics() {
  return client_access::of(client_).call<json>(
    feed_of(client_, manager_), atom::metrics_v);
}

// -- kv -----------------------------------------------------------------------

caf::expected<json> kv_facade::get(const std::string& key, json fallback) {
  return call_kv<json>(client_, atom::get_v, key, std::move(fallback));
}

caf::expected<kv_entry> kv_facade::fetch(const std::string& key) {
  return call_kv<kv_entry>(client_, atom::fetch_v, key);
}

caf::expected<uint64_t> kv_facade::set(const std::string& key, json value) {
  return call_kv<uint64_t>(client_, atom::set_v, key, std::move(value));
}

caf::expected<uint64_t> kv_facade::set_if(const std::string& key, json value,
                                          uint64_t expected) {
  return call_kv<uint64_t>(client_, atom::set_v, key, std::move(value),
                           expected);
}

caf::expected<uint64_t> kv_facade::update(json items) {
  return call_kv<uint64_t>(client_, atom::update_v, std::move(items));
}

caf::expected<bool> kv_facade::erase(const std::string& key) {
  return call_kv<bool>(client_, atom::erase_v, key);
}

caf::expected<bool> kv_facade::erase_if(const std::string& key,
                                        uint64_t expected) {
  return call_kv<bool>(client_, atom::erase_v, key, expected);
}

caf::expected<kv_entry> kv_facade::merge_patch(const std::string& key,
                                               json patch) {
  return call_kv<kv_entry>(client_, atom::patch_v, key, std::move(patch),
                           patch_format::merge_patch);
}

caf::expected<kv_entry> kv_facade::json_patch(const std::string& key,
                                              json patch) {
  return call_kv<kv_entry>(client_, atom::patch_v, key, std::move(patch),
                           patch_format::json_patch);
}

caf::expected<kv_entry> kv_facade::patch_if(const std::string& key, json patch,
                                            patch_format format,
                                            uint64_t expected) {
  return call_kv<kv_entry>(client_, atom::patch_v, key, std::move(patch),
                           format, expected);
}

caf::expected<bool> kv_facade::contains(const std::string& key) {
  return call_kv<bool>(client_, atom::contains_v, key);
}

caf::expected<uint64_t> kv_facade::size() {
  return call_kv<uint64_t>(client_, atom::count_v);
}

caf::expected<std::vector<std::string>> kv_facade::keys() {
  return call_kv<std::vector<std::string>>(client_, atom::list_keys_v);
}

caf::expected<json> kv_facade::values() {
  return call_kv<json>(client_, atom::list_values_v);
}

caf::expected<json> kv_facade::items() {
  return call_kv<json>(client_, atom::get_all_v);
}

caf::expected<kv_snapshot> kv_facade::snapshot() {
  return call_kv<kv_snapshot>(client_, atom::snapshot_v);
}

caf::expected<kv_snapshot> kv_facade::snapshot(const std::string& prefix) {
  return call_kv<kv_snapshot>(client_, atom::snapshot_v, prefix);
}

caf::expected<uint64_t> kv_facade::clear() {
  return call_kv<uint64_t>(client_, atom::clear_v);
}

caf::expected<uint64_t> kv_facade::clear(const std::string& prefix) {
  return call_kv<uint64_t>(client_, atom::clear_v, prefix);
}



// -- services -----------------------------------------------------------------

caf::expected<bool> service_facade::is_service_running(const std::string& name) {
  return call_services<bool>(client_, atom::is_running_v, name);
}

caf::expected<json> service_facade::get_status(const std::string& entry) {
  return call_services<json>(client_, atom::get_v, entry);
}

caf::expected<uint64_t> service_facade::set_status(const std::string& entry,
                                                   json value) {
  return call_services<uint64_t>(client_, atom::set_v, entry,
                                 std::move(value));
}

caf::expected<uint64_t> service_facade::update_status(json entries) {
  return call_services<uint64_t>(client_, atom::update_v, std::move(entries));
}

caf::expected<json> service_facade::get_all_status() {
  return call_services<json>(client_, atom::get_all_v);
}

caf::expected<service_record>
service_facade::describe(const std::string& name) {
  return call_services<service_record>(client_, atom::describe_v, name);
}

caf::expected<std::vector<service_record>> service_facade::records() {
  return call_services<std::vector<service_record>>(client_, atom::list_v);
}



// -- tests --------------------------------------------------------------------

caf::expected<bool> test_facade::is_running() {
  return call_tests<bool>(client_, atom::is_running_v);
}

caf::expected<json> test_facade::get_field(const std::string& field) {
  return call_tests<json>(client_, atom::get_v, field);
}

caf::expected<json> test_facade::get_pid() {
  return get_field("pid");
}

caf::expected<json> test_facade::get_script() {
  return get_field("script");
}

caf::expected<json> test_facade::get_bin() {
  return get_field("bin");
}

caf::expected<json> test_facade::get_topology() {
  return get_field("topology");
}

caf::expected<json> test_facade::get_topology_file() {
  return get_field("topology_file");
}

caf::expected<json> test_facade::get_start_time() {
  return get_field("start_time");
}

caf::expected<json> test_facade::start_test(const std::string& script,
                                            json pid, json extra) {
  return call_tests<json>(client_, atom::start_v, script, std::move(pid),
                          std::move(extra));
}

caf::expected<json> test_facade::start_test(const std::string& script,
                                            json pid, json extra,
                                            std::chrono::milliseconds wait) {
  auto& d = client_access::of(client_);
  return d.call_for<json>(wait + d.timeout, d.rt.test_execution(),
                          atom::start_v, script, std::move(pid),
                          std::move(extra),
                          static_cast<uint64_t>(std::max<int64_t>(
                            0, static_cast<int64_t>(wait.count()))));
}

caf::expected<json> test_facade::stop_test() {
  return call_tests<json>(client_, atom::stop_v);
}

caf::expected<json> test_facade::reset() {
  return call_tests<json>(client_, atom::reset_v);
}

caf::expected<json> test_facade::get_state() {
  return call_tests<json>(client_, atom::get_all_v);
}

caf::expected<json> test_facade::update_state(json fields) {
  return call_tests<json>(client_, atom::update_v, std::move(fields));
}

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
