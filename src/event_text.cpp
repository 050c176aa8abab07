// One line per event, in the words the daemon's log and `labctl watch` share.
#include "labrt/event_text.hpp"

namespace labrt {

namespace {

/// A field of `obj` as text: strings as they are, numbers as JSON, "" for
/// null, missing or anything else.
std::string text_of(const json& obj, const char* key) {
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null())
    return {};
  return i->is_string() ? i->get<std::string>() : i->dump();
}

std::string cut(std::string text, size_t max = 80) {
  if (text.size() > max)
    text = text.substr(0, max - 3) + "...";
  return text;
}

/// How a run ended, from its record (or the end fields of test_execution):
/// "exit code 3", "killed by SIGSEGV", "stopped by SIGTERM
/// (request)", "timed out, stopped by SIGKILL"; "" if none were recorded
/// (a run of the plain start_test API).
std::string outcome(const json& t) {
  auto exit_code = text_of(t, "exit_code");
  auto signal = t.find("signal") != t.end() && t.at("signal").is_object()
                  ? text_of(t.at("signal"), "name")
                  : std::string{};
  auto by = text_of(t, "stopped_by");
  bool timed_out = t.value("timed_out", json{}) == true;
  auto ended = !signal.empty()      ? "by " + signal
               : !exit_code.empty() ? "with exit code " + exit_code
                                    : std::string{};
  if (timed_out)
    return "timed out" + (ended.empty() ? "" : ", stopped " + ended);
  if (!by.empty())
    return (signal.empty() ? "stopped (" + by + ")"
                           : "stopped by " + signal + " (" + by + ")")
           + (signal.empty() && !exit_code.empty() ? ", exit code " + exit_code
                                                   : "");
  if (!signal.empty())
    return "killed by " + signal;
  return exit_code.empty() ? std::string{} : "exit code " + exit_code;
}

std::string service_line(const std::string& key, const json& now) {
  if (key.rfind("record/", 0) != 0)
    return {};
  auto name = key.substr(7);
  if (!now.is_object())
    return "service " + name + " no longer watched";
  auto line = "service " + name + " "
              + (now.value("running", json{}) == true ? "up" : "down");
  if (auto pids = now.find("pids"); pids != now.end() && pids->is_array()
                                    && !pids->empty())
    line += " (pids " + pids->dump() + ")";
  return line;
}

/// A runner's run as its record changes: started, and how it ended.
std::string run_line(const json& run) {
  auto state = text_of(run, "state");
  auto script = text_of(run, "script");
  auto id = text_of(run, "run_id");
  if (state == "running")
    return "test started: " + script + " (pid " + text_of(run, "pid")
           + ", run " + id + ")";
  if (state == "failed" || state == "cancelled")
    return "test " + state + ": " + script + " (run " + id + ": "
           + cut(text_of(run, "error")) + ")";
  if (state != "finished")
    return {};
  auto how = outcome(run);
  auto ms = text_of(run, "duration_ms");
  if (!ms.empty())
    how += (how.empty() ? "" : ", ") + ms + " ms";
  return "test ended: " + script + " (" + (how.empty() ? "" : how + ", ")
         + "run " + id + ")";
}

std::string queue_line(const json& data) {
  auto queue = data.is_object() ? data.value("queue", json::array())
                                : json::array();
  if (!queue.is_array() || queue.empty())
    return "queue empty";
  std::string runs;
  for (auto& run : queue)
    if (run.is_object())
      runs += (runs.empty() ? "" : ", ") + text_of(run, "script") + " (run "
              + text_of(run, "run_id") + ")";
  return "queue: " + std::to_string(queue.size()) + " waiting: " + cut(runs);
}

} // namespace

event_describer::event_describer(json test_state)
  : test_(test_state.is_object() ? std::move(test_state) : json::object()) {
  // nop
}

std::string event_describer::line(const std::string& kind, const json& data) {
  if (kind == "queue")
    return queue_line(data);
  if (kind == "run")
    return data.is_object() ? run_line(data) : std::string{};
  if (kind == "missed")
    return "missed " + text_of(data, "missed")
           + " events: the server no longer holds them";
  if (!data.is_object() || !data.contains("key"))
    return {};
  auto key = text_of(data, "key");
  auto now = data.value("new", json{});
  if (kind == "service")
    return service_line(key, now);
  if (kind == "kv")
    return now.is_null()
             ? "kv " + key + " erased"
             : "kv " + key + " = " + cut(now.dump()) + " (revision "
                 + text_of(data, "revision") + ")";
  if (kind != "test")
    return {};
  test_[key] = now;
  // A runner's run holds the slot in its name and has its own events.
  if (!text_of(test_, "run_id").empty())
    return {};
  auto script = text_of(test_, "script");
  // test_execution publishes a start field by field in key order: running,
  // pid, run_id and script come before start_time, which every start sets.
  if (key == "start_time" && now.is_string() && test_.value("running", json{}) == true)
    return "test started: " + script + " (pid " + text_of(test_, "pid") + ")";
  if (key == "running" && now == false) {
    auto how = outcome(test_);
    auto ms = text_of(test_, "duration_ms");
    if (!ms.empty())
      how += (how.empty() ? "" : ", ") + ms + " ms";
    return "test ended: " + (script.empty() ? std::string{"?"} : script)
           + (how.empty() ? "" : " (" + how + ")");
  }
  return {};
}

} // namespace labrt
