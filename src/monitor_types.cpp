#include "labrt/monitor_types.hpp"

#include "json_fields.hpp"

namespace labrt {

namespace {

[[noreturn]] void shape_error(const std::string& what) {
  throw json::other_error::create(501, what, nullptr);
}

} // namespace

const char* to_string(match_kind x) {
  switch (x) {
    case match_kind::comm: return "comm";
    case match_kind::exe: return "exe";
    case match_kind::cmdline: return "cmdline";
  }
  return "unknown";
}

void to_json(json& j, const service_rule& x) {
  j = {{"name", x.name}, {"match", {{to_string(x.kind), x.pattern}}}};
}

void from_json(const json& j, service_rule& x) {
  if (!j.is_object())
    shape_error(
      "a service must be an object, not " + std::string{j.type_name()});
  for (auto& [key, value] : j.items()) {
    (void)value;
    if (key != "name" && key != "match")
      shape_error("unknown key '" + key + "' (name, match)");
  }
  auto name = j.find("name");
  if (name == j.end())
    shape_error("missing 'name'");
  if (!name->is_string())
    shape_error("name must be a string, not " + std::string{name->type_name()});
  auto match = j.find("match");
  if (match == j.end())
    shape_error("missing 'match'");
  if (!match->is_object() || match->size() != 1)
    shape_error("match must be an object with exactly one of comm, exe, "
                "cmdline");
  auto kind = match->begin().key();
  auto& pattern = match->begin().value();
  if (kind == "comm")
    x.kind = match_kind::comm;
  else if (kind == "exe")
    x.kind = match_kind::exe;
  else if (kind == "cmdline")
    x.kind = match_kind::cmdline;
  else
    shape_error("match: unknown kind '" + kind + "' (comm, exe or cmdline)");
  if (!pattern.is_string())
    shape_error("match." + kind + " must be a string, not "
      + std::string{pattern.type_name()});
  x.name = name->get<std::string>();
  x.pattern = pattern.get<std::string>();
}

void to_json(json& j, const proc_id& x) {
  j = {{"pid", x.pid}, {"start_ticks", x.start_ticks}};
}

void from_json(const json& j, proc_id& x) {
  x.pid = j.at("pid").get<int32_t>();
  x.start_ticks = j.at("start_ticks").get<uint64_t>();
}

void to_json(json& j, const proc_entry& x) {
  j = {{"pid", x.id.pid}, {"start_ticks", x.id.start_ticks},
    {"started", time_or_null(x.started)}, {"cmdline", x.cmdline}};
}

void from_json(const json& j, proc_entry& x) {
  from_json(j, x.id);
  x.started = time_from(j, "started");
  x.cmdline = j.value("cmdline", std::string{});
}

void to_json(json& j, const service_procs& x) {
  j = {{"name", x.name}, {"rule_id", x.rule_id}, {"procs", x.procs}};
}

void from_json(const json& j, service_procs& x) {
  x.name = j.at("name").get<std::string>();
  x.rule_id = j.value("rule_id", uint64_t{0});
  x.procs = j.value("procs", std::vector<proc_entry>{});
}

void to_json(json& j, const scan_result& x) {
  j = {{"started", time_or_null(x.started)}, {"services", x.services},
    {"scanned", x.scanned}, {"duration_us", x.duration_us}};
}

void from_json(const json& j, scan_result& x) {
  x.started = time_from(j, "started");
  x.services = j.value("services", std::vector<service_procs>{});
  x.scanned = j.value("scanned", uint64_t{0});
  x.duration_us = j.value("duration_us", uint64_t{0});
}

void to_json(json& j, const proc_exits& x) {
  j = {{"time", time_or_null(x.time)}, {"procs", x.procs}};
}

void from_json(const json& j, proc_exits& x) {
  x.time = time_from(j, "time");
  x.procs = j.value("procs", std::vector<proc_id>{});
}

} // namespace labrt
