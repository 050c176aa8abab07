// One pass over /proc for every service rule at once. Plain C++, no actors
// (Linux only).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <vector>

#include "labrt/monitor_types.hpp"
#include "src/proc_cache.hpp"
#include "src/service_rules.hpp"

namespace labrt {

/// One pass over `pids` for every rule. Reads per pid only what the rules
/// need (comm for comm rules, exe for exe rules, cmdline for cmdline rules),
/// then stat and cmdline for candidates only. Never fails: pids that vanish
/// mid-scan or cannot be read are skipped; kernel threads and zombies never
/// match. The result has one entry per rule, in rule order.
/// With a `cache`, reuses its open files and exe paths (the scanner's
/// periodic passes).
scan_result scan_pids(const rule_set& rules, const std::vector<pid_t>& pids,
  proc_cache* cache = nullptr);

/// Orders each service's processes and stamps the pass's duration since
/// `t0`: the last step of a pass, whoever split it.
void finish_scan(scan_result& result, std::chrono::steady_clock::time_point t0);

} // namespace labrt
