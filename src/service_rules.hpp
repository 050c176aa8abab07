// Service rules of the monitor: validation, compilation and the config
// sections `services` and `monitor`. Plain C++, no actors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <regex.h>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "labrt/config.hpp"
#include "labrt/monitor_types.hpp"

namespace labrt {

/// The longest process name the kernel keeps (TASK_COMM_LEN - 1).
inline constexpr size_t max_comm_bytes = 15;

/// Longest accepted cmdline regex.
inline constexpr size_t max_regex_bytes = 4096;

/// Checks a rule: a name usable as a service_status entry, a non-empty
/// pattern that fits its kind (comm <= 15 bytes, exe absolute, cmdline a
/// valid POSIX extended regex). `errc::invalid_argument` naming the problem.
caf::error validate_rule(const service_rule& rule);


/// A rule ready to match.
struct compiled_rule {
  service_rule rule;
  uint64_t id = 0;
  /// cmdline: the compiled regex (REG_EXTENDED | REG_NOSUB).
  std::shared_ptr<const regex_t> regex;
  /// cmdline: a literal every match contains ("" = none known).
  std::string literal;
  /// exe: the pattern with symlinks resolved, if it exists now.
  std::string resolved_exe;

  /// Whether a space-joined command line matches (cmdline rules). The
  /// character after `cmdline` must be a NUL (regexec reads a C string).
  bool matches_cmdline(std::string_view cmdline) const;
  /// Whether an executable path matches (exe rules).
  bool matches_exe(std::string_view exe) const;
};

/// The bounds of `monitor.interval_ms`.
inline constexpr int64_t min_interval_ms = 10;
inline constexpr int64_t max_interval_ms = 3600 * 1000;

/// Checks a monitor section however it was made (config file or code): an
/// interval within bounds, valid rules, unique names. `errc::invalid_argument`
/// naming the field, e.g. "config: services[2] repeats the service name 'x'".
caf::error check_monitor_config(const monitor_config& cfg);

/// Validates and compiles a rule.
caf::expected<compiled_rule> compile_rule(service_rule rule, uint64_t id = 0);

/// The rules of one scanner, indexed by what a scan reads.
class rule_set {
public:
  /// Adds a rule, replacing one of the same name.
  caf::error add(service_rule rule, uint64_t id = 0);
  /// Removes a rule; false if there was none of that name.
  bool erase(const std::string& name);

  /// Every rule, sorted by name.
  const std::vector<compiled_rule>& rules() const noexcept {
    return rules_;
  }
  size_t size() const noexcept {
    return rules_.size();
  }
  bool empty() const noexcept {
    return rules_.empty();
  }

  /// Indexes into rules() per exact comm, per exe path (pattern and resolved
  /// path), and every cmdline rule.
  const std::unordered_map<std::string, std::vector<size_t>>& by_comm() const {
    return by_comm_;
  }
  const std::unordered_map<std::string, std::vector<size_t>>& by_exe() const {
    return by_exe_;
  }
  const std::vector<size_t>& cmdline_rules() const {
    return cmdline_;
  }

  /// Appends to `hits` the cmdline rules that match `cmdline` (NUL after
  /// it). One pass over the text finds the rules whose required literal
  /// occurs (an index of their first 4 bytes); only those, and rules without
  /// such a literal, run their regex.
  void match_cmdline(std::string_view cmdline, std::vector<size_t>& hits) const;

private:
  void reindex();

  std::vector<compiled_rule> rules_;
  std::unordered_map<std::string, std::vector<size_t>> by_comm_;
  std::unordered_map<std::string, std::vector<size_t>> by_exe_;
  std::vector<size_t> cmdline_;
  /// cmdline rules by the first 4 bytes of their literal (>= 4 bytes).
  std::unordered_map<uint32_t, std::vector<size_t>> by_gram_;
  /// A bitmap of hashed grams in by_gram_, checked before the map.
  std::vector<uint64_t> gram_bits_;
  /// cmdline rules with no literal of 4 bytes or more: regex always.
  std::vector<size_t> unfiltered_;
};

} // namespace labrt
