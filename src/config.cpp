// Reading config files: the whole daemon config and its sections.
#include <sys/socket.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "src/config_check.hpp"
#include "labrt/config.hpp"
#include "labrt/errc.hpp"

namespace labrt {

namespace {

namespace fs = std::filesystem;

std::string absolute_from(const std::string& path, const std::string& base) {
  if (path.empty() || base.empty() || fs::path{path}.is_absolute())
    return path;
  return (fs::path{base} / path).lexically_normal().string();
}

caf::expected<int64_t> duration(const json& value, const std::string& field) {
  return integer_in(value, "runner." + field, 0, max_duration_ms,
                    "milliseconds");
}

} // namespace

caf::expected<runner_config> parse_runner_config(
  const json& runner, const std::string& base_dir) {
  runner_config cfg;
  if (runner.is_null())
    return cfg;
  if (!runner.is_object())
    return make_error(errc::invalid_argument,
      std::string{"config: runner must be an object, not "}
        + runner.type_name());
  for (auto& [key, value] : runner.items()) {
    if (key == "roots") {
      if (!value.is_array())
        return config_error("runner.roots", "must be an array of directories");
      for (auto& root : value) {
        if (!root.is_string() || root.get<std::string>().empty())
          return config_error("runner.roots", "must hold non-empty strings");
        cfg.roots.push_back(absolute_from(root.get<std::string>(), base_dir));
      }
    } else if (key == "logs_dir") {
      if (!value.is_string())
        return config_error("runner.logs_dir", "must be a string");
      cfg.logs_dir = absolute_from(value.get<std::string>(), base_dir);
    } else if (key == "grace_ms") {
      auto ms = duration(value, key);
      if (!ms)
        return std::move(ms.error());
      cfg.grace_ms = *ms;
    } else if (key == "timeout_ms") {
      auto ms = duration(value, key);
      if (!ms)
        return std::move(ms.error());
      cfg.timeout_ms = *ms;
    } else if (key == "stop_on_shutdown") {
      if (!value.is_boolean())
        return config_error("runner.stop_on_shutdown",
                            "must be true or false");
      cfg.stop_on_shutdown = value.get<bool>();
    } else if (key == "log_max_bytes") {
      auto n = integer_in(value, "runner.log_max_bytes", 1, int64_t{1} << 40,
                          "bytes");
      if (!n)
        return std::move(n.error());
      cfg.log_max_bytes = static_cast<uint64_t>(*n);
    } else {
      return config_error("runner." + key,
        "is not a known setting (known: roots, logs_dir, grace_ms, "
        "timeout_ms, log_max_bytes, stop_on_shutdown)");
    }
  }
  return cfg;
}

size_t scheduler_threads(const runtime_config& cfg) {
  if (cfg.max_threads != 0)
    return cfg.max_threads;
  size_t cores = std::thread::hardware_concurrency();
  return cores <= 2 ? 1 : cores;
}

caf::error check_daemon_roots(const runner_config& cfg) {
  if (!cfg.enabled)
    return caf::none;
  auto& roots = cfg.roots;
  if (roots.empty())
    return config_error("runner.roots",
                        "is required: the directories whose scripts the "
                        "daemon may run (\"roots\": [\"/\"] allows any path)");
  for (auto& root : roots) {
    std::error_code ec;
    auto st = fs::status(root, ec);
    if (st.type() == fs::file_type::not_found)
      return config_error("runner.roots",
                          "names '" + root + "', which does not exist");
    if (ec)
      return config_error("runner.roots", "names '" + root
                                            + "', which cannot be read: "
                                            + ec.message());
    if (!fs::is_directory(st))
      return config_error("runner.roots",
                          "names '" + root + "', which is not a directory");
  }
  return caf::none;
}

caf::expected<json> read_config_file(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return make_error(errc::not_found, "config: cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  json doc;
  try {
    doc = json::parse(text.str());
  } catch (const json::parse_error& ex) {
    return make_error(errc::invalid_argument, "config: '" + path
                                                + "' is not valid JSON: "
                                                + what_of(ex));
  }
  if (!doc.is_object())
    return make_error(
      errc::invalid_argument, "config: '" + path + "' must hold a JSON object");
  return doc;
}

namespace {

std::string base_dir_of(const std::string& path) {
  return fs::absolute(fs::path{path}).parent_path().string();
}

caf::expected<std::string> text(const json& value, const std::string& field) {
  if (!value.is_string())
    return config_error(field, std::string{"must be a string, not "}
                                 + value.type_name());
  return value.get<std::string>();
}

caf::error parse_http(const json& http, http_config& cfg) {
  if (!http.is_object())
    return config_error("http", std::string{"must be an object, not "}
                                  + http.type_name());
  for (auto& [key, value] : http.items()) {
    auto field = "http." + key;
    if (key == "listen") {
      auto x = text(value, field);
      if (!x)
        return std::move(x.error());
      if (auto where = parse_listen(*x); !where)
        return std::move(where.error());
      cfg.listen = std::move(*x);
    } else if (key == "token") {
      if (value.is_null())
        continue;
      auto x = text(value, field);
      if (!x)
        return std::move(x.error());
      if (x->size() < http_config::min_token_bytes)
        return config_error(field, "must be at least "
                                     + std::to_string(
                                       http_config::min_token_bytes)
                                     + " characters");
      cfg.token = std::move(*x);
    } else if (key == "max_streams" || key == "threads") {
      // Each is a thread; thousands only exhaust the machine.
      auto n = integer_in(value, field, 1, 1024, "threads");
      if (!n)
        return std::move(n.error());
      (key == "threads" ? cfg.threads : cfg.max_streams)
        = static_cast<size_t>(*n);
    } else if (key == "max_body_bytes") {
      auto n = integer_in(value, field, 1, int64_t{1} << 30, "bytes");
      if (!n)
        return std::move(n.error());
      cfg.max_body_bytes = static_cast<size_t>(*n);
    } else {
      return config_error(field, "is not a known setting (known: listen, "
                                 "token, max_streams, threads, "
                                 "max_body_bytes)");
    }
  }
  return caf::none;
}

} // namespace

caf::expected<listen_address> parse_listen(const std::string& text) {
  auto colon = text.rfind(':');
  auto host = colon == std::string::npos ? text : text.substr(0, colon);
  auto port = colon == std::string::npos ? std::string{} : text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || port.empty() || port.size() > 5
      || port.find_first_not_of("0123456789") != std::string::npos
      || std::stoi(port) > 65535)
    return config_error("http.listen", "must be HOST:PORT with a port from 0 "
                                       "to 65535, not '" + text + "'");
  return listen_address{host, static_cast<uint16_t>(std::stoi(port))};
}

/// The `scheduler` section: how idle CAF workers wait (scheduler_config).
caf::error parse_scheduler(const json& sched, scheduler_config& cfg) {
  if (!sched.is_object())
    return config_error("scheduler", std::string{"must be an object, not "}
                                       + sched.type_name());
  for (auto& [key, value] : sched.items()) {
    auto field = "scheduler." + key;
    if (key == "spin_polls" || key == "sleeping_polls") {
      auto n = integer_in(value, field, 0, 1'000'000, "polls");
      if (!n)
        return std::move(n.error());
      (key == "spin_polls" ? cfg.spin_polls : cfg.sleeping_polls)
        = static_cast<size_t>(*n);
    } else if (key == "poll_sleep_us") {
      auto n = integer_in(value, field, 1, 10'000, "microseconds");
      if (!n)
        return std::move(n.error());
      cfg.poll_sleep = std::chrono::microseconds{*n};
    } else {
      return config_error(field, "is not a known setting (known: spin_polls, "
                                 "sleeping_polls, poll_sleep_us)");
    }
  }
  return caf::none;
}

caf::expected<daemon_config> parse_config(const json& doc,
                                          const std::string& base_dir) {
  if (!doc.is_object())
    return make_error(errc::invalid_argument,
                      "config: must be a JSON object, not "
                        + std::string{doc.type_name()});
  daemon_config cfg;
  cfg.runtime.event_hub = true; // For /api/events and the log.
  for (auto& [key, value] : doc.items()) {
    if (key == "name") {
      auto x = text(value, key);
      if (!x)
        return std::move(x.error());
      cfg.name = std::move(*x);
    } else if (key == "state_dir") {
      auto x = text(value, key);
      if (!x)
        return std::move(x.error());
      cfg.state_dir = absolute_from(*x, base_dir);
    } else if (key == "http") {
      if (auto err = parse_http(value, cfg.http))
        return err;
    } else if (key == "scheduler") {
      if (auto err = parse_scheduler(value, cfg.runtime.scheduler))
        return err;
    } else if (key == "service_defaults") {
      if (!value.is_object())
        return config_error(key, "must be an object of status entries");
      cfg.runtime.service_defaults = value;
    } else if (key != "services" && key != "monitor" && key != "runner") {
      return config_error(key, "is not a known setting (known: name, "
                               "services, monitor, runner, state_dir, http, "
                               "scheduler, service_defaults)");
    }
  }
  auto monitor = parse_monitor_config(doc);
  if (!monitor)
    return std::move(monitor.error());
  cfg.runtime.monitor = std::move(*monitor);
  auto runner = parse_runner_config(doc.value("runner", json{}), base_dir);
  if (!runner)
    return std::move(runner.error());
  cfg.runtime.runner = std::move(*runner);
  if (auto err = check_daemon_roots(cfg.runtime.runner))
    return err;
  if (cfg.runtime.runner.logs_dir.empty() && !cfg.state_dir.empty())
    cfg.runtime.runner.logs_dir = cfg.state_dir + "/logs";
  return cfg;
}

caf::expected<daemon_config> load_config(const std::string& path,
                                         const json& overrides) {
  auto doc = read_config_file(path);
  if (!doc)
    return std::move(doc.error());
  // Onto an object only: merging into `[]` would hide what is wrong.
  if (!overrides.is_null() && doc->is_object())
    doc->merge_patch(overrides);
  return parse_config(*doc, base_dir_of(path));
}

caf::expected<monitor_config> load_monitor_config(const std::string& path) {
  auto doc = read_config_file(path);
  if (!doc)
    return std::move(doc.error());
  return parse_monitor_config(*doc);
}

caf::expected<runner_config> load_runner_config(const std::string& path) {
  auto doc = read_config_file(path);
  if (!doc)
    return std::move(doc.error());
  auto i = doc->find("runner");
  return parse_runner_config(i == doc->end() ? json{} : *i,
                             base_dir_of(path));
}

} // namespace labrt
