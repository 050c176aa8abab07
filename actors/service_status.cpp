#include "actors/service_status.hpp"

#include <algorithm>

#include "src/validate.hpp"
#include "labrt/errc.hpp"

namespace labrt {

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size()
         && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_text_entry(const std::string& entry) {
  return ends_with(entry, "_cmd") || ends_with(entry, "_filter")
         || ends_with(entry, "_message");
}

} // namespace

// -- state --------------------------------------------------------------------

json service_status_state::builtin_defaults() {
  auto result = json::object();
  for (const char* service : {"qsfp_service", "sai_mono_link_test-sai_impl"}) {
    std::string s = service;
    result[s] = false;
    for (const char* suffix : {"_cmd", "_filter", "_message"})
      result[s + suffix] = nullptr;
  }
  return result;
}

caf::error service_status_state::init(const json& extra, const limits& bounds) {
  bounds_ = bounds;
  if (!extra.is_object())
    return make_error(errc::wrong_type,
                      std::string{"service defaults must be an object, not "}
                        + type_name(extra));
  auto all = builtin_defaults();
  all.update(extra);
  for (auto& [entry, value] : all.items())
    if (auto err = check(entry, value))
      return err;
  for (auto& [entry, value] : all.items())
    entries_[entry] = value;
  return caf::none;
}

caf::error service_status_state::check(const std::string& entry,
                                       const json& value) {
  if (auto err = check_key(entry, bounds_))
    return err;
  if (is_text_entry(entry)) {
    if (value.is_string() || value.is_null())
      return check_value(value, bounds_);
    return make_error(errc::wrong_type, "'" + entry
                                          + "' takes a string or null, not "
                                          + type_name(value));
  }
  if (!value.is_boolean())
    return make_error(errc::wrong_type, "service '" + entry
                                          + "' takes a bool, not "
                                          + type_name(value));
  return caf::none;
}

void service_status_state::store(const std::string& entry, json value) {
  auto& slot = entries_[entry];
  if (slot == value)
    return;
  auto old_value = std::exchange(slot, std::move(value));
  log_.append(entry, std::move(old_value), slot);
}

bool service_status_state::is_running(const std::string& entry) {
  ++log_.reads;
  auto i = entries_.find(entry);
  return i != entries_.end() && i->second.is_boolean()
         && i->second.get<bool>();
}

json service_status_state::get(const std::string& entry) {
  ++log_.reads;
  auto i = entries_.find(entry);
  return i == entries_.end() ? json{} : i->second;
}

caf::expected<uint64_t> service_status_state::set(const std::string& entry,
                                                  json value) {
  if (auto err = check(entry, value)) {
    ++log_.refused;
    return err;
  }
  ++log_.writes;
  store(entry, std::move(value));
  return log_.revision();
}

caf::expected<uint64_t> service_status_state::update(const json& entries) {
  if (!entries.is_object()) {
    ++log_.refused;
    return make_error(errc::wrong_type,
                      std::string{"update takes a JSON object, not "}
                        + type_name(entries));
  }
  for (auto& [entry, value] : entries.items()) {
    if (auto err = check(entry, value)) {
      ++log_.refused;
      return err;
    }
  }
  ++log_.writes;
  for (auto& [entry, value] : entries.items())
    store(entry, value);
  return log_.revision();
}

json service_status_state::get_all() {
  ++log_.reads;
  auto result = json::object();
  for (auto& [entry, value] : entries_)
    result[entry] = value;
  return result;
}

caf::expected<bool> service_status_state::report(service_record rec) {
  if (auto err = check_key(rec.name, bounds_)) {
    ++log_.refused;
    return err;
  }
  if (is_text_entry(rec.name)) {
    ++log_.refused;
    return make_error(errc::invalid_argument,
                      "'" + rec.name + "' names a text entry, not a service");
  }
  std::sort(rec.pids.begin(), rec.pids.end());
  auto i = records_.find(rec.name);
  json old_value;
  if (i != records_.end()) {
    auto& cur = i->second;
    if (cur.running == rec.running && cur.pids == rec.pids
        && cur.cmdline == rec.cmdline)
      return false;
    // `since` marks the last start or stop, not every change of pids.
    if (cur.running == rec.running)
      rec.since = cur.since;
    old_value = cur;
  }
  ++log_.writes;
  rec.last_change = caf::make_timestamp();
  if (rec.since.time_since_epoch().count() == 0)
    rec.since = rec.last_change;
  auto service = rec.name;
  auto running = rec.running;
  auto& slot = records_[service];
  slot = std::move(rec);
  log_.append("record/" + service, std::move(old_value), json(slot));
  store(service, running);
  return true;
}

bool service_status_state::forget(const std::string& service) {
  auto i = records_.find(service);
  if (i == records_.end())
    return false;
  ++log_.writes;
  json old_value = i->second;
  records_.erase(i);
  log_.append("record/" + service, std::move(old_value), nullptr);
  return true;
}

caf::expected<service_record>
service_status_state::describe(const std::string& service) {
  ++log_.reads;
  auto i = records_.find(service);
  if (i == records_.end())
    return make_error(errc::not_found,
                      "service '" + service + "' is not watched");
  return i->second;
}

std::vector<service_record> service_status_state::list() {
  ++log_.reads;
  std::vector<service_record> result;
  result.reserve(records_.size());
  for (auto& kvp : records_)
    result.push_back(kvp.second);
  return result;
}

// -- actor --------------------------------------------------------------------

service_status_internal_actor::behavior_type service_status(
  service_status_internal_actor::stateful_pointer<service_status_state> self,
  json extra_defaults, limits bounds, size_t history) {
  auto& st = self->state;
  st.log_.set_capacity(history);
  // The runtime validates the defaults before spawning; this is a backstop.
  if (auto err = st.init(extra_defaults, bounds))
    self->quit(std::move(err));
  return with_feed<service_status_internal_actor::behavior_type>(
    self,
    [self](atom::is_running, const std::string& entry) {
      return self->state.is_running(entry);
    },
    [self](atom::get, const std::string& entry) {
      return self->state.get(entry);
    },
    [self](atom::set, const std::string& entry, json& value) {
      return self->state.set(entry, std::move(value));
    },
    [self](atom::update, const json& entries) {
      return self->state.update(entries);
    },
    [self](atom::get_all) { return self->state.get_all(); },
    [self](atom::report, service_record& rec) {
      return self->state.report(std::move(rec));
    },
    [self](atom::erase, const std::string& service) {
      return self->state.forget(service);
    },
    [self](atom::describe, const std::string& service) {
      return self->state.describe(service);
    },
    [self](atom::list) { return self->state.list(); });
}

} // namespace labrt
