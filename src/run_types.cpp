#include "labrt/run_types.hpp"

#include "labrt/types.hpp"
#include "src/json_fields.hpp"
#include "src/validate.hpp"

namespace labrt {

const std::vector<std::string>& run_outcomes() {
  static const std::vector<std::string> names{
    "passed", "failed", "timed_out", "stopped", "crashed", "not_started",
    "cancelled", "lost"};
  return names;
}

const char* outcome_of(const run_record& rec) {
  switch (rec.state) {
    case run_state::failed: return "not_started";
    case run_state::cancelled: return "cancelled";
    case run_state::lost: return "lost";
    case run_state::finished: break;
    default: return "";
  }
  if (rec.timed_out)
    return "timed_out";
  if (!rec.stopped_by.empty())
    return "stopped";
  if (rec.signal != 0)
    return "crashed";
  return rec.exit_code == 0 ? "passed" : "failed";
}

namespace {

std::string text_from(const json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_string() ? i->get<std::string>() : "";
}

} // namespace

const char* to_string(run_state x) {
  switch (x) {
    case run_state::queued: return "queued";
    case run_state::starting: return "starting";
    case run_state::running: return "running";
    case run_state::stopping: return "stopping";
    case run_state::finished: return "finished";
    case run_state::failed: return "failed";
    case run_state::cancelled: return "cancelled";
    case run_state::lost: return "lost";
  }
  return "?";
}

run_state run_state_of(std::string_view text) {
  for (auto s : {run_state::starting, run_state::running, run_state::stopping,
                 run_state::finished, run_state::failed, run_state::cancelled,
                 run_state::lost})
    if (text == to_string(s))
      return s;
  return run_state::queued;
}

bool has_ended(run_state x) {
  return x == run_state::finished || x == run_state::failed
         || x == run_state::cancelled || x == run_state::lost;
}

namespace {

const std::string timeout_rule = "timeout_ms must be an integer from 0 to "
  + std::to_string(run_limits::max_timeout_ms)
  + " (30 days), or -1 for the runner's default";

bool has_nul(const std::string& s) {
  return s.find('\0') != std::string::npos;
}

std::string too_many(const char* what, size_t n, size_t max) {
  return std::string{"too many "} + what + ": " + std::to_string(n)
    + " (at most " + std::to_string(max) + ")";
}

/// The timeout of a JSON spec, strictly: 1.5, 2^63-1 and 2^64-1 are errors,
/// not a truncated, wrapped or overflowing number.
int64_t timeout_from(const json& j, const json& value) {
  bool ok = value.is_number_integer();
  int64_t ms = 0;
  if (ok && value.is_number_unsigned()) {
    auto u = value.get<uint64_t>();
    ok = u <= static_cast<uint64_t>(run_limits::max_timeout_ms);
    ms = static_cast<int64_t>(u);
  } else if (ok) {
    ms = value.get<int64_t>();
    ok = ms >= -1 && ms <= run_limits::max_timeout_ms;
  }
  if (!ok)
    throw json::other_error::create(
      501, timeout_rule + ", not " + value.dump(), &j);
  return ms;
}

} // namespace

std::string run_spec_problem(const run_spec& spec) {
  if (spec.timeout_ms < -1 || spec.timeout_ms > run_limits::max_timeout_ms)
    return timeout_rule + ", not " + std::to_string(spec.timeout_ms);
  auto limit = std::to_string(run_limits::max_text_bytes);
  for (auto [field, text] : {std::pair{"script", &spec.script},
         {"cwd", &spec.cwd}, {"bin", &spec.bin}, {"topology", &spec.topology},
         {"topology_file", &spec.topology_file}, {"log", &spec.log}}) {
    if (text->size() > run_limits::max_text_bytes)
      return std::string{field} + " is longer than " + limit + " bytes";
    if (has_nul(*text))
      return std::string{field} + " contains a NUL byte";
  }
  if (spec.args.size() > run_limits::max_args)
    return too_many("args", spec.args.size(), run_limits::max_args);
  size_t bytes = 0;
  for (size_t i = 0; i < spec.args.size(); ++i) {
    if (has_nul(spec.args[i]))
      return "args[" + std::to_string(i) + "] contains a NUL byte";
    bytes += spec.args[i].size();
  }
  if (bytes > run_limits::max_args_bytes)
    return "args hold " + std::to_string(bytes) + " bytes (at most "
      + std::to_string(run_limits::max_args_bytes) + ")";
  if (spec.env.size() > run_limits::max_env)
    return too_many("env variables", spec.env.size(), run_limits::max_env);
  bytes = 0;
  for (auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos || has_nul(name))
      return "env name '" + name
        + "' is invalid (empty, or holds '=' or a NUL byte)";
    if (has_nul(value))
      return "env value of '" + name + "' contains a NUL byte";
    bytes += name.size() + value.size();
  }
  if (bytes > run_limits::max_env_bytes)
    return "env holds " + std::to_string(bytes) + " bytes (at most "
      + std::to_string(run_limits::max_env_bytes) + ")";
  return {};
}

namespace {

/// Heap bytes of a string: its buffer, unless it fits the object itself.
size_t held(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

size_t held(const std::vector<std::string>& v) {
  size_t n = v.capacity() * sizeof(std::string);
  for (auto& s : v)
    n += held(s);
  return n;
}

} // namespace

size_t run_footprint(const run_spec& spec) {
  size_t n = sizeof(spec) + held(spec.args);
  for (auto* s : {&spec.script, &spec.cwd, &spec.bin, &spec.topology,
         &spec.topology_file, &spec.log})
    n += held(*s);
  for (auto& [name, value] : spec.env)
    n += 96 + held(name) + held(value); // a map node and its two strings
  return n;
}

size_t run_footprint(const run_record& rec) {
  size_t n = sizeof(rec) + held(rec.args);
  for (auto* s : {&rec.run_id, &rec.script, &rec.path, &rec.bin,
         &rec.topology, &rec.topology_file, &rec.cookie, &rec.log,
         &rec.signal_name, &rec.stopped_by, &rec.error})
    n += held(*s);
  return n;
}

void to_json(json& j, const run_spec& x) {
  j = {{"script", x.script}, {"args", x.args}, {"cwd", x.cwd}, {"env", x.env},
    {"use_shell", x.use_shell}, {"bin", x.bin}, {"topology", x.topology},
    {"topology_file", x.topology_file}, {"timeout_ms", x.timeout_ms},
    {"log", x.log}};
}

void from_json(const json& j, run_spec& x) {
  if (!j.is_object())
    throw json::type_error::create(302, "a run spec must be an object", &j);
  run_spec result;
  for (auto& [key, value] : j.items()) {
    // Counted before converted: an oversized request costs no copies.
    if (key == "args" && value.size() > run_limits::max_args)
      throw json::other_error::create(
        501, too_many("args", value.size(), run_limits::max_args), &j);
    if (key == "env" && value.size() > run_limits::max_env)
      throw json::other_error::create(
        501, too_many("env variables", value.size(), run_limits::max_env), &j);
    if (key == "script")
      result.script = value.get<std::string>();
    else if (key == "args")
      result.args = value.get<std::vector<std::string>>();
    else if (key == "cwd")
      result.cwd = value.get<std::string>();
    else if (key == "env")
      result.env = value.get<std::map<std::string, std::string>>();
    else if (key == "use_shell")
      result.use_shell = value.get<bool>();
    else if (key == "bin")
      result.bin = value.is_null() ? "" : value.get<std::string>();
    else if (key == "topology")
      result.topology = value.is_null() ? "" : value.get<std::string>();
    else if (key == "topology_file")
      result.topology_file = value.is_null() ? "" : value.get<std::string>();
    else if (key == "timeout_ms")
      result.timeout_ms = timeout_from(j, value);
    else if (key == "log")
      result.log = value.is_null() ? "" : value.get<std::string>();
    else
      throw json::other_error::create(
        501, "unknown run spec field '" + key + "'", &j);
  }
  x = std::move(result);
}

void to_json(json& j, const run_end& x) {
  j = {{"exit_code", x.exit_code}, {"signal", x.signal},
    {"signal_name", x.signal_name}, {"core_dumped", x.core_dumped},
    {"timed_out", x.timed_out}, {"stopped_by", x.stopped_by},
    {"leftovers", x.leftovers}, {"out_bytes", x.out_bytes},
    {"err_bytes", x.err_bytes}, {"log_cut_bytes", x.log_cut_bytes},
    {"lines_dropped", x.lines_dropped}, {"error", x.error}};
}

void from_json(const json& j, run_end& x) {
  run_end r;
  r.exit_code = j.value("exit_code", -1);
  r.signal = j.value("signal", 0);
  r.signal_name = j.value("signal_name", "");
  r.core_dumped = j.value("core_dumped", false);
  r.timed_out = j.value("timed_out", false);
  r.stopped_by = j.value("stopped_by", "");
  r.leftovers = j.value("leftovers", 0);
  r.out_bytes = j.value("out_bytes", uint64_t{0});
  r.err_bytes = j.value("err_bytes", uint64_t{0});
  r.log_cut_bytes = j.value("log_cut_bytes", uint64_t{0});
  r.lines_dropped = j.value("lines_dropped", uint64_t{0});
  r.error = j.value("error", "");
  x = std::move(r);
}

void to_json(json& j, const run_record& x) {
  bool exited = x.signal == 0 && x.exit_code >= 0;
  j = {{"run_id", x.run_id}, {"state", to_string(x.state)},
    {"outcome", text_or_null(outcome_of(x))},
    {"script", x.script}, {"path", x.path}, {"args", x.args},
    {"bin", text_or_null(x.bin)}, {"topology", text_or_null(x.topology)},
    {"topology_file", text_or_null(x.topology_file)},
    {"pid", x.pid == 0 ? json{} : json(x.pid)},
    {"pgid", x.pgid == 0 ? json{} : json(x.pgid)}, {"cookie", x.cookie},
    {"log", text_or_null(x.log)}, {"enqueued_at", time_or_null(x.enqueued_at)},
    {"started_at", time_or_null(x.started_at)},
    {"ended_at", time_or_null(x.ended_at)}, {"duration_ms", x.duration_ms},
    {"exit_code", exited ? json(x.exit_code) : json{}},
    {"signal",
      x.signal == 0 ? json{}
                    : json{{"number", x.signal}, {"name", x.signal_name}}},
    {"core_dumped", x.core_dumped}, {"timed_out", x.timed_out},
    {"stopped", !x.stopped_by.empty()},
    {"stopped_by", text_or_null(x.stopped_by)}, {"leftovers", x.leftovers},
    {"out_bytes", x.out_bytes}, {"err_bytes", x.err_bytes},
    {"log_cut_bytes", x.log_cut_bytes}, {"lines_dropped", x.lines_dropped},
    {"error", text_or_null(x.error)}};
}

void from_json(const json& j, run_record& x) {
  run_record r;
  r.run_id = j.at("run_id").get<std::string>();
  r.state = run_state_of(text_from(j, "state"));
  r.script = text_from(j, "script");
  r.path = text_from(j, "path");
  r.args = j.value("args", std::vector<std::string>{});
  r.bin = text_from(j, "bin");
  r.topology = text_from(j, "topology");
  r.topology_file = text_from(j, "topology_file");
  auto int_or = [&](const char* key, int32_t fallback) {
    auto i = j.find(key);
    return i != j.end() && i->is_number_integer() ? i->get<int32_t>()
                                                  : fallback;
  };
  r.pid = int_or("pid", 0);
  r.pgid = int_or("pgid", 0);
  r.cookie = text_from(j, "cookie");
  r.log = text_from(j, "log");
  r.enqueued_at = time_from(j, "enqueued_at");
  r.started_at = time_from(j, "started_at");
  r.ended_at = time_from(j, "ended_at");
  r.duration_ms = j.value("duration_ms", int64_t{0});
  r.exit_code = int_or("exit_code", -1);
  if (auto i = j.find("signal"); i != j.end() && i->is_object()) {
    r.signal = i->value("number", 0);
    r.signal_name = i->value("name", "");
  }
  r.core_dumped = j.value("core_dumped", false);
  r.timed_out = j.value("timed_out", false);
  r.stopped_by = text_from(j, "stopped_by");
  r.leftovers = int_or("leftovers", 0);
  r.out_bytes = j.value("out_bytes", uint64_t{0});
  r.err_bytes = j.value("err_bytes", uint64_t{0});
  r.log_cut_bytes = j.value("log_cut_bytes", uint64_t{0});
  r.lines_dropped = j.value("lines_dropped", uint64_t{0});
  r.error = text_from(j, "error");
  x = std::move(r);
}

void to_json(json& j, const output_batch& x) {
  json lines = json::array();
  for (auto& line : x.lines)
    lines.push_back({{"stream", line.stream == 2 ? "stderr" : "stdout"},
      {"text", line.text}, {"n", line.n}});
  j = {
    {"run_id", x.run_id}, {"lines", std::move(lines)}, {"dropped", x.dropped}};
}

void to_json(json& j, const log_chunk& x) {
  j = {{"run", x.run}, {"offset", x.offset}, {"bytes", x.data.size()}};
}

void to_json(json& j, const run_update& x) {
  to_json(j, x.run);
}

void to_json(json& j, const queue_update& x) {
  j = {{"queue", x.queue}};
}

} // namespace labrt
