#include "labrt/client.hpp"

#include "src/client_impl.hpp"

namespace labrt {

client::client(runtime& rt, std::chrono::milliseconds timeout)
  : impl_(std::make_unique<impl>(rt, timeout)), kv_(*this, {}),
    services_(*this, {}), tests_(*this, {}), runner_(*this), monitor_(*this),
    cluster_(*this) {
  // nop
}

client::~client() = default;

caf::expected<json> client::storage() {
  auto& store = impl_->rt.storage();
  if (!store)
    return json{{"state", "memory"}};
  return impl_->call<json>(store, atom::storage_v);
}

caf::expected<json> client::event_metrics() {
  auto& hub = impl_->rt.events();
  if (!hub)
    return make_error(errc::invalid_argument,
      "this runtime has no event hub "
      "(runtime_config::event_hub is off)");
  return impl_->call<json>(hub, atom::metrics_v);
}

kv_facade client::kv(kv_store_actor store) {
  return kv_facade{*this, caf::actor_cast<feed_actor>(std::move(store))};
}

service_facade client::services(service_status_actor manager) {
  return service_facade{*this, caf::actor_cast<feed_actor>(std::move(manager))};
}

test_facade client::tests(test_execution_actor manager) {
  return test_facade{*this, caf::actor_cast<feed_actor>(std::move(manager))};
}

void client::wait_in_slices(std::chrono::milliseconds slice,
                            std::function<bool()> keep_waiting) {
  impl_->slice = slice;
  impl_->keep_waiting = std::move(keep_waiting);
}

namespace {

template <class R, class... Ts>
caf::expected<R> call_kv(client& c, const feed_actor& own, Ts&&... xs) {
  auto& d = client_access::of(c);
  return d.template call<R>(own ? caf::actor_cast<kv_store_actor>(own) : d.rt.kv(),
                            std::forward<Ts>(xs)...);
}

template <class R, class... Ts>
caf::expected<R> call_services(client& c, const feed_actor& own, Ts&&... xs) {
  auto& d = client_access::of(c);
  return d.template call<R>(own ? caf::actor_cast<service_status_actor>(own) : d.rt.services(),
                            std::forward<Ts>(xs)...);
}

template <class R, class... Ts>
caf::expected<R> call_tests(client& c, const feed_actor& own, Ts&&... xs) {
  auto& d = client_access::of(c);
  return d.template call<R>(own ? caf::actor_cast<test_execution_actor>(own) : d.rt.test_execution(),
                            std::forward<Ts>(xs)...);
}

using events = std::vector<change_event>;

} // namespace

// -- shared by all managers -------------------------------------------------

namespace {

feed_actor feed_of(client& c, manager_facade::manager which,
                   const feed_actor& own) {
  if (own)
    return own;
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
    feed_of(client_, manager_, own_), atom::history_v, since);
}

caf::expected<json> manager_facade::metrics() {
  return client_access::of(client_).call<json>(
    feed_of(client_, manager_, own_), atom::metrics_v);
}

// -- kv -----------------------------------------------------------------------

caf::expected<json> kv_facade::get(const std::string& key, json fallback) {
  return call_kv<json>(client_, own_, atom::get_v, key, std::move(fallback));
}

caf::expected<kv_entry> kv_facade::fetch(const std::string& key) {
  return call_kv<kv_entry>(client_, own_, atom::fetch_v, key);
}

caf::expected<uint64_t> kv_facade::set(const std::string& key, json value) {
  return call_kv<uint64_t>(client_, own_, atom::set_v, key, std::move(value));
}

caf::expected<uint64_t> kv_facade::set_if(const std::string& key, json value,
                                          uint64_t expected) {
  return call_kv<uint64_t>(client_, own_, atom::set_v, key, std::move(value),
                           expected);
}

caf::expected<uint64_t> kv_facade::update(json items) {
  return call_kv<uint64_t>(client_, own_, atom::update_v, std::move(items));
}

caf::expected<bool> kv_facade::erase(const std::string& key) {
  return call_kv<bool>(client_, own_, atom::erase_v, key);
}

caf::expected<bool> kv_facade::erase_if(const std::string& key,
                                        uint64_t expected) {
  return call_kv<bool>(client_, own_, atom::erase_v, key, expected);
}

caf::expected<kv_entry> kv_facade::merge_patch(const std::string& key,
                                               json patch) {
  return call_kv<kv_entry>(client_, own_, atom::patch_v, key, std::move(patch),
                           patch_format::merge_patch);
}

caf::expected<kv_entry> kv_facade::json_patch(const std::string& key,
                                              json patch) {
  return call_kv<kv_entry>(client_, own_, atom::patch_v, key, std::move(patch),
                           patch_format::json_patch);
}

caf::expected<kv_entry> kv_facade::patch_if(const std::string& key, json patch,
                                            patch_format format,
                                            uint64_t expected) {
  return call_kv<kv_entry>(client_, own_, atom::patch_v, key, std::move(patch),
                           format, expected);
}

caf::expected<bool> kv_facade::contains(const std::string& key) {
  return call_kv<bool>(client_, own_, atom::contains_v, key);
}

caf::expected<uint64_t> kv_facade::size() {
  return call_kv<uint64_t>(client_, own_, atom::count_v);
}

caf::expected<std::vector<std::string>> kv_facade::keys() {
  return call_kv<std::vector<std::string>>(client_, own_, atom::list_keys_v);
}

caf::expected<json> kv_facade::values() {
  return call_kv<json>(client_, own_, atom::list_values_v);
}

caf::expected<json> kv_facade::items() {
  return call_kv<json>(client_, own_, atom::get_all_v);
}

caf::expected<kv_snapshot> kv_facade::snapshot() {
  return call_kv<kv_snapshot>(client_, own_, atom::snapshot_v);
}

caf::expected<kv_snapshot> kv_facade::snapshot(const std::string& prefix) {
  return call_kv<kv_snapshot>(client_, own_, atom::snapshot_v, prefix);
}

caf::expected<uint64_t> kv_facade::clear() {
  return call_kv<uint64_t>(client_, own_, atom::clear_v);
}

caf::expected<uint64_t> kv_facade::clear(const std::string& prefix) {
  return call_kv<uint64_t>(client_, own_, atom::clear_v, prefix);
}

// -- services -----------------------------------------------------------------

caf::expected<bool> service_facade::is_service_running(const std::string& name) {
  return call_services<bool>(client_, own_, atom::is_running_v, name);
}

caf::expected<json> service_facade::get_status(const std::string& entry) {
  return call_services<json>(client_, own_, atom::get_v, entry);
}

caf::expected<uint64_t> service_facade::set_status(const std::string& entry,
                                                   json value) {
  return call_services<uint64_t>(client_, own_, atom::set_v, entry,
                                 std::move(value));
}

caf::expected<uint64_t> service_facade::update_status(json entries) {
  return call_services<uint64_t>(client_, own_, atom::update_v, std::move(entries));
}

caf::expected<json> service_facade::get_all_status() {
  return call_services<json>(client_, own_, atom::get_all_v);
}

caf::expected<service_record>
service_facade::describe(const std::string& name) {
  return call_services<service_record>(client_, own_, atom::describe_v, name);
}

caf::expected<std::vector<service_record>> service_facade::records() {
  return call_services<std::vector<service_record>>(client_, own_, atom::list_v);
}

// -- tests --------------------------------------------------------------------

caf::expected<bool> test_facade::is_running() {
  return call_tests<bool>(client_, own_, atom::is_running_v);
}

caf::expected<json> test_facade::get_field(const std::string& field) {
  return call_tests<json>(client_, own_, atom::get_v, field);
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
  return call_tests<json>(client_, own_, atom::start_v, script, std::move(pid),
                          std::move(extra));
}

caf::expected<json> test_facade::start_test(const std::string& script,
                                            json pid, json extra,
                                            std::chrono::milliseconds wait) {
  auto& d = client_access::of(client_);
  auto dest = own_ ? caf::actor_cast<test_execution_actor>(own_)
                   : d.rt.test_execution();
  return d.call_for<json>(wait + d.timeout, dest, atom::start_v, script,
                          std::move(pid),
                          std::move(extra),
                          static_cast<uint64_t>(std::max<int64_t>(
                            0, static_cast<int64_t>(wait.count()))));
}

caf::expected<json> test_facade::stop_test() {
  return call_tests<json>(client_, own_, atom::stop_v);
}

caf::expected<json> test_facade::reset() {
  return call_tests<json>(client_, own_, atom::reset_v);
}

caf::expected<json> test_facade::get_state() {
  return call_tests<json>(client_, own_, atom::get_all_v);
}

caf::expected<json> test_facade::update_state(json fields) {
  return call_tests<json>(client_, own_, atom::update_v, std::move(fields));
}

} // namespace labrt
