#include "labrt/types.hpp"

#include <ctime>

#include "src/json_fields.hpp"

namespace labrt {

std::string to_iso8601(caf::timestamp t) {
  using namespace std::chrono;
  auto since_epoch = t.time_since_epoch();
  auto secs = duration_cast<seconds>(since_epoch);
  auto ms = duration_cast<milliseconds>(since_epoch - secs).count();
  auto tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}

caf::timestamp from_iso8601(const std::string& text) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms)
      < 6)
    return {};
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  auto secs = std::chrono::seconds{timegm(&tm)};
  return caf::timestamp{secs + std::chrono::milliseconds{ms}};
}

json time_or_null(caf::timestamp t) {
  return t.time_since_epoch().count() == 0 ? json{} : json(to_iso8601(t));
}

caf::timestamp time_from(const json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_string() ? from_iso8601(i->get<std::string>())
                                        : caf::timestamp{};
}

json text_or_null(const std::string& s) {
  return s.empty() ? json{} : json(s);
}

void to_json(json& j, const change_event& x) {
  j = {{"source", x.source},       {"key", x.key},
       {"old", x.old_value},       {"new", x.new_value},
       {"revision", x.revision},   {"time", to_iso8601(x.time)}};
}

void from_json(const json& j, change_event& x) {
  x.source = j.at("source").get<std::string>();
  x.key = j.at("key").get<std::string>();
  x.old_value = j.value("old", json{});
  x.new_value = j.value("new", json{});
  x.revision = j.at("revision").get<uint64_t>();
  x.time = time_from(j, "time");
}

void to_json(json& j, const subscription& x) {
  j = {{"first", x.first}, {"current", x.current}, {"complete", x.complete}};
}

void to_json(json& j, const event& x) {
  j = {{"id", x.id}, {"kind", x.kind},
       {"data", json::parse(x.data, nullptr, false)}};
}

void to_json(json& j, const kv_entry& x) {
  j = {{"key", x.key},
       {"value", x.value},
       {"revision", x.revision},
       {"exists", x.exists}};
}

void from_json(const json& j, kv_entry& x) {
  x.key = j.at("key").get<std::string>();
  x.value = j.value("value", json{});
  x.revision = j.value("revision", uint64_t{0});
  x.exists = j.value("exists", false);
}

void to_json(json& j, const kv_snapshot& x) {
  j = {{"revision", x.revision}, {"entries", x.entries}};
}

void to_json(json& j, const service_record& x) {
  j = {{"name", x.name},
       {"running", x.running},
       {"pids", x.pids},
       {"cmdline", x.cmdline},
       {"since", time_or_null(x.since)},
       {"last_change", time_or_null(x.last_change)}};
}

void from_json(const json& j, service_record& x) {
  x.name = j.at("name").get<std::string>();
  x.running = j.value("running", false);
  x.pids = j.value("pids", std::vector<int32_t>{});
  x.cmdline = j.value("cmdline", std::string{});
  x.since = time_from(j, "since");
  x.last_change = time_from(j, "last_change");
}

} // namespace labrt
