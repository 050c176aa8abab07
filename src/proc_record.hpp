// What a service's record shows of its matching processes. Plain C++, no
// actors.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "labrt/monitor_types.hpp"
#include "labrt/types.hpp"

namespace labrt {

/// Turns the (space-joined) arguments into what a record shows: valid UTF-8
/// (bad bytes become '?'), at most `max_bytes`.
std::string display_cmdline(std::string_view cmdline, size_t max_bytes = 4096);

/// The record a set of matching processes implies: running if any, every
/// pid ascending, the cmdline of the lowest pid, since = the oldest start
/// (zero when not running: the caller knows when it stopped).
service_record record_of(
  const std::string& name, const std::vector<proc_entry>& procs);

} // namespace labrt
