// Plain data types that cross actors: each with inspect() for CAF and
// to_json/from_json for the HTTP API and the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include "labrt/json.hpp"

namespace labrt {

/// ISO 8601 in UTC with milliseconds, e.g. "2026-11-27T20:42:35.123Z".
std::string to_iso8601(caf::timestamp t);

/// Parses what to_iso8601 writes; the epoch for anything else.
caf::timestamp from_iso8601(const std::string& text);

/// One change in a manager, as delivered to subscribers and kept in history.
struct change_event {
  std::string source; ///< "kv", "service" or "test".
  std::string key;    ///< The key, status entry or test field that changed.
  json old_value;     ///< null when the key did not exist.
  json new_value;     ///< null when the key was erased.
  uint64_t revision = 0; ///< The manager's revision after this change.
  caf::timestamp time;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, change_event& x) {
  return f(caf::meta::type_name("change_event"), x.source, x.key, x.old_value,
           x.new_value, x.revision, x.time);
}

void to_json(json& j, const change_event& x);
void from_json(const json& j, change_event& x);

/// What a subscriber learns when it subscribes.
struct subscription {
  uint64_t first = 0;   ///< First revision replayed (0: nothing replayed).
  uint64_t current = 0; ///< The manager's revision when subscribing.
  bool complete = true; ///< False if history had dropped changes after `from`.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscription& x) {
  return f(caf::meta::type_name("subscription"), x.first, x.current,
           x.complete);
}

void to_json(json& j, const subscription& x);

/// One key of the kv store with its revision.
struct kv_entry {
  std::string key;
  json value;            ///< null when absent.
  uint64_t revision = 0; ///< 0 when absent.
  bool exists = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kv_entry& x) {
  return f(caf::meta::type_name("kv_entry"), x.key, x.value, x.revision,
           x.exists);
}

void to_json(json& j, const kv_entry& x);
void from_json(const json& j, kv_entry& x);

/// The whole kv store at one revision: subscribe from `revision` to follow it.
struct kv_snapshot {
  uint64_t revision = 0;
  std::vector<kv_entry> entries; ///< Sorted by key.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kv_snapshot& x) {
  return f(caf::meta::type_name("kv_snapshot"), x.revision, x.entries);
}

void to_json(json& j, const kv_snapshot& x);

/// How `patch` reads its document.
enum class patch_format : uint8_t {
  merge_patch, ///< RFC 7386 JSON Merge Patch.
  json_patch,  ///< RFC 6902 JSON Patch (add, remove, replace, move, copy, test).
};

/// What the monitor knows of one watched service.
struct service_record {
  std::string name;
  bool running = false;
  std::vector<int32_t> pids; ///< Every matching instance, ascending.
  std::string cmdline;       ///< Of the first instance.
  caf::timestamp since;      ///< When it started running (or stopped).
  caf::timestamp last_change;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, service_record& x) {
  return f(caf::meta::type_name("service_record"), x.name, x.running, x.pids,
           x.cmdline, x.since, x.last_change);
}

void to_json(json& j, const service_record& x);
void from_json(const json& j, service_record& x);

/// One entry of the runtime's merged event stream (what `GET /api/events`
/// serves): a manager's change or a batch of run output, numbered across
/// all sources so that a reader can resume after the last id it saw.
struct event {
  uint64_t id = 0;
  std::string kind; ///< "kv", "service", "test" (a change_event), "output" or "queue".
  /// The change_event, output_batch or queue_update as JSON text, serialised once by the
  /// hub: readers send it on as is, and the hub bounds its history in bytes.
  std::string data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event& x) {
  return f(caf::meta::type_name("event"), x.id, x.kind, x.data);
}

/// {"id", "kind", "data"} with data parsed.
void to_json(json& j, const event& x);

/// Subscribing "after" this id means: only events from now on.
inline constexpr uint64_t events_from_now = ~uint64_t{0};

/// Events in id order, as an event sink receives them.
struct event_batch {
  std::vector<event> events;
  /// Events lost right before these: the reader fell behind the history.
  uint64_t missed = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_batch& x) {
  return f(caf::meta::type_name("event_batch"), x.events, x.missed);
}

} // namespace labrt
