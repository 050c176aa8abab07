// The orchestrator's facade of labrt::client.
#include "src/client_impl.hpp"

namespace labrt {

namespace {

/// The orchestrator answers within `deadline` (naming the host when it
/// cannot): waiting a little longer lets its answer, not ours, arrive.
template <class R, class... Ts>
caf::expected<R> call_cluster(client& c, std::chrono::milliseconds deadline,
                              Ts&&... xs) {
  auto& d = client_access::of(c);
  if (!d.rt.cluster())
    return d.rt.config().cluster.peers.empty()
             ? make_error(errc::not_found, "the runtime follows no cluster "
                                           "hosts (cluster.peers)")
             : make_error(errc::shutting_down, "the runtime has shut down");
  return d.template call_for<R>(deadline + std::chrono::seconds{2},
                                d.rt.cluster(), std::forward<Ts>(xs)...);
}

const cluster_config& config_of(client& c) {
  return client_access::of(c).rt.config().cluster;
}

} // namespace

caf::expected<json> cluster_facade::hosts() {
  return call_cluster<json>(client_, {}, atom::get_v);
}

caf::expected<run_record> cluster_facade::start(const std::string& host,
                                                run_spec spec) {
  return call_cluster<run_record>(client_, config_of(client_).start_timeout,
                                  atom::start_v, host, std::move(spec));
}

caf::expected<run_record> cluster_facade::stop(const std::string& host,
                                               const std::string& run_id,
                                               const std::string& by) {
  return call_cluster<run_record>(client_, config_of(client_).stop_timeout,
                                  atom::stop_v, host, run_id, by);
}

caf::expected<run_record> cluster_facade::enqueue(const std::string& host,
                                                  run_spec spec) {
  return call_cluster<run_record>(client_, config_of(client_).start_timeout,
                                  atom::enqueue_v, host, std::move(spec));
}

caf::expected<std::vector<run_record>>
cluster_facade::queue(const std::string& host) {
  return call_cluster<std::vector<run_record>>(
    client_, config_of(client_).request_timeout, atom::list_v, host);
}

caf::expected<run_record> cluster_facade::cancel(const std::string& host,
                                                 const std::string& run_id) {
  return call_cluster<run_record>(client_, config_of(client_).request_timeout,
                                  atom::cancel_v, host, run_id);
}

caf::expected<std::vector<run_record>>
cluster_facade::history(const std::string& host, const history_query& q) {
  return call_cluster<std::vector<run_record>>(
    client_, config_of(client_).request_timeout, atom::history_v, host, q);
}

caf::expected<run_record> cluster_facade::run(const std::string& host,
                                              const std::string& run_id) {
  return call_cluster<run_record>(client_, config_of(client_).request_timeout,
                                  atom::get_v, host, run_id);
}

caf::expected<log_chunk> cluster_facade::read_log(const std::string& host,
                                                  const std::string& run_id,
                                                  uint64_t offset) {
  return call_cluster<log_chunk>(client_, config_of(client_).request_timeout,
                                 atom::read_v, host, run_id, offset);
}

caf::expected<kv_snapshot>
cluster_kv_facade::snapshot(const std::string& prefix) {
  return call_cluster<kv_snapshot>(client_, config_of(client_).request_timeout,
                                   atom::snapshot_v, host_, prefix);
}

caf::expected<kv_entry> cluster_kv_facade::fetch(const std::string& key) {
  return call_cluster<kv_entry>(client_, config_of(client_).request_timeout,
                                atom::fetch_v, host_, key);
}

caf::expected<uint64_t> cluster_kv_facade::set(const std::string& key,
                                               json value) {
  return call_cluster<uint64_t>(client_, config_of(client_).request_timeout,
                                atom::set_v, host_, key, std::move(value));
}

caf::expected<uint64_t> cluster_kv_facade::set_if(const std::string& key,
                                                  json value,
                                                  uint64_t expected) {
  return call_cluster<uint64_t>(client_, config_of(client_).request_timeout,
                                atom::set_v, host_, key, std::move(value),
                                expected);
}

caf::expected<bool> cluster_kv_facade::erase(const std::string& key) {
  return call_cluster<bool>(client_, config_of(client_).request_timeout,
                            atom::erase_v, host_, key);
}

caf::expected<bool> cluster_kv_facade::erase_if(const std::string& key,
                                                uint64_t expected) {
  return call_cluster<bool>(client_, config_of(client_).request_timeout,
                            atom::erase_v, host_, key, expected);
}

} // namespace labrt
