// The service-status manager actor, successor of ServiceStatusManager.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "src/change_log.hpp"
#include "actors/feed.hpp"
#include "labrt/config.hpp"
#include "labrt/interfaces.hpp"

namespace labrt {

/// service_status as the runtime spawns it: the public interface plus the
/// monitor's write path, which no embedder gets.
using service_status_internal_actor = service_status_actor::extend<
  /// The monitor's view of one service; replies whether anything changed.
  caf::replies_to<atom::report, service_record>::with<bool>,
  /// Forgets the record of a service that is no longer watched.
  caf::replies_to<atom::erase, std::string>::with<bool>>;

/// State of the service-status manager.
///
/// The flat view keeps the old module's shape: `name -> bool` for a service,
/// and `name_cmd`, `name_filter`, `name_message` entries that hold a string or
/// null. On top of it, a `service_record` per watched service that the
/// monitor reports; a report also sets the service's flat entry.
/// Record changes appear in the change feed under the key `record/<name>`.
struct service_status_state {
  static inline const char* name = "labrt.service_status";

  /// The entries every runtime starts with.
  static json builtin_defaults();

  /// Installs the defaults plus `extra`, refusing bad entries.
  caf::error init(const json& extra, const limits& bounds);

  bool is_running(const std::string& entry);
  json get(const std::string& entry);
  caf::expected<uint64_t> set(const std::string& entry, json value);
  caf::expected<uint64_t> update(const json& entries);
  json get_all();

  /// Applies the monitor's view of one service; true if anything changed.
  caf::expected<bool> report(service_record rec);
  bool forget(const std::string& service);
  caf::expected<service_record> describe(const std::string& service);
  std::vector<service_record> list();

  limits bounds_;
  std::map<std::string, json> entries_;
  std::map<std::string, service_record> records_;
  change_log log_{"service"};
  feed feed_;

private:
  /// A service entry holds a bool; `_cmd`, `_filter`, `_message` a string or null.
  caf::error check(const std::string& entry, const json& value);
  void store(const std::string& entry, json value);
};

service_status_internal_actor::behavior_type service_status(
  service_status_internal_actor::stateful_pointer<service_status_state> self,
  json extra_defaults, limits bounds, size_t history);

} // namespace labrt
