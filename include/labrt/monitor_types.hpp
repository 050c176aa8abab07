// Messages of the service monitor: what to watch, what a pass over /proc
// found, which watched processes ended. Each with inspect() for CAF; rules
// also with to_json/from_json for the config file, the HTTP API and the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include "labrt/json.hpp"

namespace labrt {

/// How a rule recognises the processes of a service.
enum class match_kind : uint8_t {
  comm,    ///< Exact process name (/proc/<pid>/comm, at most 15 characters).
  exe,     ///< Exact executable path (/proc/<pid>/exe; symlinks resolved).
  cmdline, ///< POSIX extended regex over the arguments joined by spaces, as
           ///< `pgrep -f`.
};

/// "comm", "exe" or "cmdline".
const char* to_string(match_kind x);

/// One watched service. JSON: {"name": "...", "match": {"comm": "..."}}.
struct service_rule {
  std::string name;
  match_kind kind = match_kind::comm;
  std::string pattern;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_rule& x) {
  return f(caf::meta::type_name("service_rule"), x.name, x.kind, x.pattern);
}

inline bool operator==(const service_rule& x, const service_rule& y) {
  return x.name == y.name && x.kind == y.kind && x.pattern == y.pattern;
}

void to_json(json& j, const service_rule& x);
/// Strict on shape: unknown keys and wrong types throw json::exception naming
/// the field. Patterns are checked by validate_rule, not here.
void from_json(const json& j, service_rule& x);

/// A process, identified across PID reuse: pid plus start time.
struct proc_id {
  int32_t pid = 0;
  /// Clock ticks after boot (/proc/<pid>/stat field 22).
  uint64_t start_ticks = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, proc_id& x) {
  return f(caf::meta::type_name("proc_id"), x.pid, x.start_ticks);
}

inline bool operator==(const proc_id& x, const proc_id& y) {
  return x.pid == y.pid && x.start_ticks == y.start_ticks;
}

inline bool operator<(const proc_id& x, const proc_id& y) {
  return std::tie(x.pid, x.start_ticks) < std::tie(y.pid, y.start_ticks);
}

/// A live (not zombie) process that matched a rule.
struct proc_entry {
  proc_id id;
  caf::timestamp started; ///< Wall-clock start time.
  std::string cmdline;    ///< Arguments joined by spaces, valid UTF-8.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, proc_entry& x) {
  return f(caf::meta::type_name("proc_entry"), x.id, x.started, x.cmdline);
}

/// What one pass over /proc found for one rule.
struct service_procs {
  std::string name;
  uint64_t rule_id = 0;          ///< Which version of the rule matched.
  std::vector<proc_entry> procs; ///< Ascending by pid.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_procs& x) {
  return f(caf::meta::type_name("service_procs"), x.name, x.rule_id, x.procs);
}

/// One pass over /proc for every rule.
struct scan_result {
  caf::timestamp started;              ///< When the pass began.
  std::vector<service_procs> services; ///< One per rule, even without matches.
  uint64_t scanned = 0;                ///< Pids looked at.
  uint64_t duration_us = 0;            ///< Wall time of the pass.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scan_result& x) {
  return f(caf::meta::type_name("scan_result"), x.started, x.services,
    x.scanned, x.duration_us);
}

/// Watched processes that ended (or turned out not to be the ones watched).
struct proc_exits {
  caf::timestamp time; ///< When the watcher saw it.
  std::vector<proc_id> procs;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, proc_exits& x) {
  return f(caf::meta::type_name("proc_exits"), x.time, x.procs);
}

} // namespace labrt
