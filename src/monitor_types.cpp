#include "labrt/monitor_types.hpp"

#include <string>

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

} // namespace labrt
