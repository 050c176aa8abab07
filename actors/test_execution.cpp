#include "actors/test_execution.hpp"

#include <algorithm>
#include <chrono>

#include "src/validate.hpp"
#include "labrt/errc.hpp"

namespace labrt {

namespace {

const char* const text_fields[]
  = {"script", "bin", "topology", "topology_file", "start_time"};

bool is_text_field(const std::string& field) {
  for (auto name : text_fields)
    if (field == name)
      return true;
  return false;
}

// `fallback` when `field` is absent or not a string (null, before a start).
std::string text_or(const json& state, const char* field, const char* fallback) {
  auto i = state.find(field);
  return i != state.end() && i->is_string() ? i->get<std::string>() : fallback;
}

} // namespace

// -- state --------------------------------------------------------------------

json test_execution_state::initial() {
  json result = {{"running", false}, {"pid", nullptr}};
  for (auto field : text_fields)
    result[field] = nullptr;
  return result;
}

test_execution_state::test_execution_state() : state_(initial()) {
  // nop
}

caf::error test_execution_state::refuse(caf::error err) {
  ++log_.refused;
  return err;
}

caf::error test_execution_state::check(const std::string& field,
                                       const json& value) {
  if (auto err = check_key(field, bounds_))
    return err;
  auto wrong = [&](const char* expected) {
    return make_error(errc::wrong_type, "'" + field + "' takes " + expected
                                          + ", not " + type_name(value));
  };
  if (field == "running" && !value.is_boolean())
    return wrong("a bool");
  // 0 is a value the old module recorded (no real process): kept as given.
  if (field == "pid"
      && !(value.is_null()
           || (value.is_number_integer() && value.get<int64_t>() >= 0)))
    return wrong("an integer from 0 or null");
  if (is_text_field(field) && !value.is_string() && !value.is_null())
    return wrong("a string or null");
  return check_value(value, bounds_);
}

void test_execution_state::assign(json next) {
  for (auto& [field, value] : state_.items())
    if (!next.contains(field))
      log_.append(field, value, nullptr);
  for (auto& [field, value] : next.items()) {
    auto i = state_.find(field);
    auto old_value = i == state_.end() ? json{} : *i;
    if (i == state_.end() || old_value != value)
      log_.append(field, std::move(old_value), value);
  }
  state_ = std::move(next);
}

bool test_execution_state::is_running() {
  ++log_.reads;
  return state_.at("running").get<bool>();
}

json test_execution_state::get(const std::string& field) {
  ++log_.reads;
  return state_.value(field, json{});
}

json test_execution_state::state() {
  ++log_.reads;
  return state_;
}

caf::expected<json> test_execution_state::start(const std::string& script,
                                                const json& pid,
                                                const json& extra) {
  if (state_.at("running").get<bool>()) {
    auto& pid_now = state_.at("pid");
    return refuse(make_error(
      errc::already_running,
      "test '" + text_or(state_, "script", "?") + "'"
        + (pid_now.is_null() ? "" : " (pid " + pid_now.dump() + ")")
        + " is running since " + text_or(state_, "start_time", "?")));
  }
  if (script.empty())
    return refuse(make_error(errc::invalid_argument, "script is empty"));
  if (!extra.is_null() && !extra.is_object())
    return refuse(make_error(errc::wrong_type,
                             std::string{"extra fields must be an object, not "}
                               + type_name(extra)));
  auto next = state_;
  next["running"] = true;
  // The run that holds the slot, if the runner took it; none for start_test.
  if (next.contains("run_id"))
    next["run_id"] = nullptr;
  next["script"] = script;
  next["pid"] = pid;
  next["start_time"] = to_iso8601(caf::make_timestamp());
  if (extra.is_object()) {
    for (auto& [field, value] : extra.items()) {
      if (field == "running" || field == "script" || field == "pid"
          || field == "start_time")
        return refuse(make_error(errc::invalid_argument,
                                 "'" + field + "' is set by start itself"));
      next[field] = value;
    }
  }
  for (auto& [field, value] : next.items())
    if (auto err = check(field, value))
      return refuse(std::move(err));
  ++log_.writes;
  assign(std::move(next));
  return state_;
}

json test_execution_state::stop() {
  if (!state_.at("running").get<bool>())
    return state_;
  ++log_.writes;
  auto next = state_;
  next["running"] = false;
  next["pid"] = nullptr;
  assign(std::move(next));
  return state_;
}

json test_execution_state::reset() {
  ++log_.writes;
  assign(initial());
  return state_;
}

caf::expected<json> test_execution_state::update(const json& fields) {
  if (!fields.is_object())
    return refuse(make_error(errc::wrong_type,
                             std::string{"update takes a JSON object, not "}
                               + type_name(fields)));
  for (auto& [field, value] : fields.items())
    if (auto err = check(field, value))
      return refuse(std::move(err));
  ++log_.writes;
  auto next = state_;
  next.update(fields);
  assign(std::move(next));
  return state_;
}

uint64_t test_execution_state::wait_for_slot(std::string script, json pid,
                                             json extra,
                                             caf::response_promise rp) {
  auto id = next_wait_id_++;
  waiting_.push_back(
    {id, std::move(script), std::move(pid), std::move(extra), std::move(rp)});
  return id;
}

std::vector<test_execution_state::reply> test_execution_state::admit_waiting() {
  std::vector<reply> out;
  while (!waiting_.empty() && !state_.at("running").get<bool>()) {
    auto w = std::move(waiting_.front());
    waiting_.pop_front();
    out.emplace_back(std::move(w.rp), start(w.script, w.pid, w.extra));
  }
  return out;
}

std::optional<test_execution_state::reply>
test_execution_state::expire(uint64_t id) {
  auto i = std::find_if(waiting_.begin(), waiting_.end(),
                        [id](const waiting_start& w) { return w.id == id; });
  if (i == waiting_.end())
    return std::nullopt;
  reply out{std::move(i->rp), start(i->script, i->pid, i->extra)};
  waiting_.erase(i);
  return out;
}

bool test_execution_state::holds(const std::string& run_id) const {
  auto i = state_.find("run_id");
  return state_.at("running").get<bool>() && i != state_.end()
         && i->is_string() && i->get<std::string>() == run_id;
}

caf::expected<json> test_execution_state::update_run(const std::string& id,
                                                     const json& fields) {
  if (!holds(id))
    return refuse(make_error(errc::not_running,
                             "run " + id + " no longer holds the test slot"));
  return update(fields);
}

caf::expected<json> test_execution_state::release(const std::string& id,
                                                  const json& fields) {
  if (!holds(id))
    return state_;
  auto next = fields;
  if (!next.is_object())
    next = json::object();
  next["running"] = false;
  next["pid"] = nullptr;
  return update(next);
}

// -- actor --------------------------------------------------------------------

namespace {

using self_ptr
  = test_execution_internal_actor::stateful_pointer<test_execution_state>;

void deliver(test_execution_state::reply& r) {
  if (r.second)
    r.first.deliver(std::move(*r.second));
  else
    r.first.deliver(std::move(r.second.error()));
}

/// Hands the slot to waiting starts after `result` may have freed it.
template <class T>
T wake(self_ptr self, T result) {
  for (auto& r : self->state.admit_waiting())
    deliver(r);
  return result;
}

caf::result<json> start_waiting(self_ptr self, const std::string& script,
                                const json& pid, const json& extra,
                                uint64_t wait_ms) {
  auto& s = self->state;
  if (wait_ms == 0
      || (!s.state_.at("running").get<bool>() && s.waiting_.empty()))
    return s.start(script, pid, extra);
  auto rp = self->make_response_promise<json>();
  auto id = s.wait_for_slot(script, pid, extra, rp);
  self->delayed_send(self, std::chrono::milliseconds{wait_ms}, atom::expire_v,
                     id);
  return rp;
}

} // namespace

test_execution_internal_actor::behavior_type test_execution(
  test_execution_internal_actor::stateful_pointer<test_execution_state> self,
  limits bounds, size_t history) {
  self->state.bounds_ = bounds;
  self->state.log_.set_capacity(history);
  return with_feed<test_execution_internal_actor::behavior_type>(
    self, [self](atom::is_running) { return self->state.is_running(); },
    [self](atom::get, const std::string& field) {
      return self->state.get(field);
    },
    [self](atom::get_all) { return self->state.state(); },
    [self](atom::start, const std::string& script, const json& pid,
           const json& extra) {
      return self->state.start(script, pid, extra);
    },
    [self](atom::start, const std::string& script, const json& pid,
           const json& extra, uint64_t wait_ms) {
      return start_waiting(self, script, pid, extra, wait_ms);
    },
    [self](atom::expire, uint64_t id) {
      if (auto r = self->state.expire(id))
        deliver(*r);
    },
    [self](atom::stop) { return wake(self, self->state.stop()); },
    [self](atom::reset) { return wake(self, self->state.reset()); },
    [self](atom::update, const json& fields) {
      return wake(self, self->state.update(fields));
    },
    [self](atom::update, const std::string& id, const json& fields) {
      return self->state.update_run(id, fields);
    },
    [self](atom::release, const std::string& id, const json& fields) {
      return wake(self, self->state.release(id, fields));
    });
}

} // namespace labrt
