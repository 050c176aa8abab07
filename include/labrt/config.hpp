// Settings of an embedded runtime.
#pragma once

#include <cstddef>

#include "labrt/json.hpp"

namespace labrt {

/// Bounds on what a caller may store.
struct limits {
  size_t max_key_bytes = 256;          ///< Keys and field names.
  size_t max_value_bytes = 1024 * 1024; ///< Serialized size of one value.
};

/// Everything `runtime` needs to start.
struct runtime_config {
  /// CAF scheduler threads; 0 means one per core.
  size_t max_threads = 0;
  /// Changes each manager keeps for history queries and late subscribers.
  size_t history_capacity = 1024;
  limits bounds;
  /// Extra service_status entries on top of the built-in defaults,
  /// e.g. {"my_daemon": false, "my_daemon_cmd": null}.
  json service_defaults = json::object();
};

} // namespace labrt
