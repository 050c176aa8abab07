// One-shot service scan for CLIs and scripts (`labctl ps`): the monitor's
// rules and pass over /proc without a runtime.
#pragma once

#include <vector>

#include <caf/expected.hpp>

#include "labrt/monitor_types.hpp"
#include "labrt/types.hpp"

namespace labrt {

/// Validates `rules` (errc::invalid_argument naming the bad one), does one
/// pass over /proc and returns a record per rule, sorted by name: running,
/// every pid, the cmdline of the lowest pid, since = start of the oldest
/// instance (zero when not running), last_change = the time of the scan.
caf::expected<std::vector<service_record>> scan_services(
  const std::vector<service_rule>& rules);

} // namespace labrt
