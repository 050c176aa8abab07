// labrt/ps.hpp: the monitor's rules and pass over /proc without a runtime.
#include "labrt/ps.hpp"

#include "labrt/errc.hpp"
#include "src/proc_record.hpp"
#include "src/scan_pool.hpp"
#include "src/service_rules.hpp"

namespace labrt {

caf::expected<std::vector<service_record>> scan_services(
  const std::vector<service_rule>& rules) {
  rule_set set;
  for (auto& rule : rules)
    if (auto err = set.add(rule))
      return err;
  if (set.size() != rules.size())
    return make_error(errc::invalid_argument, "duplicate service names");
  // One pass, nothing kept open, shared out among the cores.
  scan_pool pool{scan_pool::default_threads(), 0};
  auto scan = pool.scan(set);
  std::vector<service_record> result;
  for (auto& s : scan.services) {
    result.push_back(record_of(s.name, s.procs));
    result.back().last_change = scan.started;
  }
  return result;
}

} // namespace labrt
