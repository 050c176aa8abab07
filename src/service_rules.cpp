#include "src/service_rules.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>

#include "src/config_check.hpp"
#include "labrt/errc.hpp"
#include "src/regex_text.hpp"
#include "src/validate.hpp"

namespace labrt {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size()
    && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

caf::error rule_error(const service_rule& rule, const std::string& what) {
  return make_error(
    errc::invalid_argument, "service '" + rule.name + "': " + what);
}

std::string regex_error_text(int code, const regex_t* re) {
  char buf[256];
  ::regerror(code, re, buf, sizeof(buf));
  return buf;
}

/// Compiles an extended regex; the error text on failure.
caf::expected<std::shared_ptr<const regex_t>> compile_regex(
  const service_rule& rule) {
  auto re = std::make_unique<regex_t>();
  if (auto rc
      = ::regcomp(re.get(), rule.pattern.c_str(), REG_EXTENDED | REG_NOSUB);
      rc != 0)
    return rule_error(rule,
      "invalid cmdline regex '" + rule.pattern
        + "': " + regex_error_text(rc, re.get()));
  return std::shared_ptr<const regex_t>{re.release(), [](const regex_t* p) {
                                          ::regfree(const_cast<regex_t*>(p));
                                          delete p;
                                        }};
}

} // namespace

caf::error validate_rule(const service_rule& rule) {
  if (rule.name.empty())
    return make_error(errc::invalid_argument, "service name must not be empty");
  if (auto err = check_key(rule.name, limits{}))
    return make_error(errc::invalid_argument,
      "service name '" + rule.name + "': " + message_of(err));
  for (auto suffix : {"_cmd", "_filter", "_message"})
    if (ends_with(rule.name, suffix))
      return rule_error(rule,
        std::string{"a service name must not end in '"} + suffix
          + "' (reserved for text entries)");
  if (rule.pattern.empty())
    return rule_error(
      rule, std::string{"empty "} + to_string(rule.kind) + " pattern");
  if (!valid_utf8(rule.pattern))
    return rule_error(rule, "pattern is not valid UTF-8");
  // regcomp() and the kernel's strings end at a NUL: the rest would be
  // shown and prefiltered on but never matched.
  if (rule.pattern.find('\0') != std::string::npos)
    return rule_error(rule, "pattern must not contain a NUL character");
  switch (rule.kind) {
    case match_kind::comm:
      if (rule.pattern.size() > max_comm_bytes)
        return rule_error(rule,
          "comm '" + rule.pattern
            + "' is longer than "
              "the kernel's 15 characters and would never "
              "match; use exe or cmdline");
      if (rule.pattern.find('\n') != std::string::npos)
        return rule_error(rule, "comm must not contain a newline");
      return caf::none;
    case match_kind::exe:
      if (rule.pattern.front() != '/')
        return rule_error(
          rule, "exe '" + rule.pattern + "' must be an absolute path");
      return caf::none;
    case match_kind::cmdline: {
      if (rule.pattern.size() > max_regex_bytes)
        return rule_error(rule,
          "cmdline regex is longer than " + std::to_string(max_regex_bytes)
            + " bytes");
      if (auto why = costly_construct(rule.pattern); !why.empty())
        return rule_error(rule, "cmdline regex '" + rule.pattern + "' " + why);
      auto re = compile_regex(rule);
      if (!re)
        return std::move(re.error());
      return caf::none;
    }
  }
  return rule_error(rule,
    "unknown match kind " + std::to_string(static_cast<int>(rule.kind))
      + " (comm, exe or cmdline)");
}

bool compiled_rule::matches_cmdline(std::string_view cmdline) const {
  if (!regex)
    return false;
  if (!literal.empty() && cmdline.find(literal) == std::string_view::npos)
    return false;
  return ::regexec(regex.get(), cmdline.data(), 0, nullptr, 0) == 0;
}

namespace {

uint32_t gram_at(const char* p) {
  uint32_t x;
  std::memcpy(&x, p, sizeof(x));
  return x;
}

size_t gram_bit(uint32_t gram) {
  return (gram * 2654435761u) >> 16; // 16 bits
}

} // namespace

void rule_set::match_cmdline(
  std::string_view cmdline, std::vector<size_t>& hits) const {
  for (auto idx : unfiltered_)
    if (rules_[idx].matches_cmdline(cmdline))
      hits.push_back(idx);
  if (by_gram_.empty() || cmdline.size() < 4)
    return;
  auto first = hits.size();
  for (size_t i = 0; i + 4 <= cmdline.size(); ++i) {
    auto gram = gram_at(cmdline.data() + i);
    auto bit = gram_bit(gram);
    if ((gram_bits_[bit / 64] & (uint64_t{1} << (bit % 64))) == 0)
      continue;
    auto j = by_gram_.find(gram);
    if (j == by_gram_.end())
      continue;
    for (auto idx : j->second) {
      auto& lit = rules_[idx].literal;
      if (cmdline.compare(i, lit.size(), lit) == 0)
        hits.push_back(idx);
    }
  }
  // Literal found: now the regex, once per rule.
  std::sort(hits.begin() + static_cast<ptrdiff_t>(first), hits.end());
  auto end
    = std::unique(hits.begin() + static_cast<ptrdiff_t>(first), hits.end());
  auto out = hits.begin() + static_cast<ptrdiff_t>(first);
  for (auto i = out; i != end; ++i)
    if (::regexec(rules_[*i].regex.get(), cmdline.data(), 0, nullptr, 0) == 0)
      *out++ = *i;
  hits.erase(out, hits.end());
}

bool compiled_rule::matches_exe(std::string_view exe) const {
  return exe == rule.pattern || (!resolved_exe.empty() && exe == resolved_exe);
}

caf::expected<compiled_rule> compile_rule(service_rule rule, uint64_t id) {
  if (auto err = validate_rule(rule))
    return err;
  compiled_rule result;
  if (rule.kind == match_kind::cmdline) {
    auto re = compile_regex(rule);
    if (!re)
      return std::move(re.error());
    result.regex = std::move(*re);
    result.literal = required_literal(rule.pattern);
  } else if (rule.kind == match_kind::exe) {
    // /proc/<pid>/exe names the resolved file (e.g. /usr/bin/sleep for
    // /bin/sleep on merged-/usr systems).
    char buf[PATH_MAX];
    if (::realpath(rule.pattern.c_str(), buf) != nullptr)
      result.resolved_exe = buf;
  }
  result.rule = std::move(rule);
  result.id = id;
  return result;
}

caf::error rule_set::add(service_rule rule, uint64_t id) {
  auto compiled = compile_rule(std::move(rule), id);
  if (!compiled)
    return std::move(compiled.error());
  auto i = std::lower_bound(rules_.begin(), rules_.end(), compiled->rule.name,
    [](const compiled_rule& x, const std::string& y) {
      return x.rule.name < y;
    });
  if (i != rules_.end() && i->rule.name == compiled->rule.name)
    *i = std::move(*compiled);
  else
    rules_.insert(i, std::move(*compiled));
  reindex();
  return caf::none;
}

bool rule_set::erase(const std::string& name) {
  auto i = std::find_if(rules_.begin(), rules_.end(),
    [&](const compiled_rule& x) { return x.rule.name == name; });
  if (i == rules_.end())
    return false;
  rules_.erase(i);
  reindex();
  return true;
}

void rule_set::reindex() {
  by_comm_.clear();
  by_exe_.clear();
  cmdline_.clear();
  by_gram_.clear();
  unfiltered_.clear();
  gram_bits_.assign(65536 / 64, 0);
  for (size_t i = 0; i < rules_.size(); ++i) {
    auto& r = rules_[i];
    switch (r.rule.kind) {
      case match_kind::comm: by_comm_[r.rule.pattern].push_back(i); break;
      case match_kind::exe:
        by_exe_[r.rule.pattern].push_back(i);
        if (!r.resolved_exe.empty() && r.resolved_exe != r.rule.pattern)
          by_exe_[r.resolved_exe].push_back(i);
        break;
      case match_kind::cmdline:
        cmdline_.push_back(i);
        if (r.literal.size() >= 4) {
          auto gram = gram_at(r.literal.data());
          by_gram_[gram].push_back(i);
          auto bit = gram_bit(gram);
          gram_bits_[bit / 64] |= uint64_t{1} << (bit % 64);
        } else {
          unfiltered_.push_back(i);
        }
        break;
    }
  }
}

// -- config sections ----------------------------------------------------------

caf::error check_monitor_config(const monitor_config& cfg) {
  if (cfg.interval_ms < min_interval_ms || cfg.interval_ms > max_interval_ms)
    return config_error("monitor.interval_ms",
      "must be from " + std::to_string(min_interval_ms) + " to "
        + std::to_string(max_interval_ms) + " (milliseconds), not "
        + std::to_string(cfg.interval_ms));
  std::set<std::string> names;
  for (size_t n = 0; n < cfg.services.size(); ++n) {
    auto& rule = cfg.services[n];
    auto field = "services[" + std::to_string(n) + "]";
    if (auto err = validate_rule(rule))
      return config_error(field, "is invalid: " + message_of(err));
    if (!names.insert(rule.name).second)
      return config_error(
        field, "repeats the service name '" + rule.name + "'");
  }
  return caf::none;
}

caf::expected<monitor_config> parse_monitor_config(const json& doc) {
  monitor_config cfg;
  if (!doc.is_object())
    return make_error(errc::invalid_argument,
      std::string{"config: must be a JSON object, not "} + doc.type_name());
  config_section s{"monitor", doc.value("monitor", json{})};
  s.integer("interval_ms", cfg.interval_ms, min_interval_ms, max_interval_ms,
            "milliseconds");
  if (auto err = s.finish())
    return err;
  if (auto i = doc.find("services"); i != doc.end() && !i->is_null()) {
    if (!i->is_array())
      return config_error(
        "services", std::string{"must be an array, not "} + i->type_name());
    for (size_t n = 0; n < i->size(); ++n) {
      service_rule rule;
      try {
        (*i)[n].get_to(rule);
      } catch (const json::exception& ex) {
        return config_error(
          "services[" + std::to_string(n) + "]", "is invalid: " + what_of(ex));
      }
      cfg.services.push_back(std::move(rule));
    }
  }
  if (auto err = check_monitor_config(cfg))
    return err;
  return cfg;
}

} // namespace labrt
