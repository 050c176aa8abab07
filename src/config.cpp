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

namespace fs = std::filesystem;

caf::expected<runner_config> parse_runner_config(
  const json& runner, const std::string& base_dir) {
  runner_config cfg;
  config_section s{"runner", runner};
  s.field("roots", [&](const json& value, const std::string& field) {
     if (!value.is_array())
       return config_error(field, "must be an array of directories");
     for (auto& root : value) {
       if (!root.is_string() || root.get<std::string>().empty())
         return config_error(field, "must hold non-empty strings");
       cfg.roots.push_back(absolute_from(root.get<std::string>(), base_dir));
     }
     return caf::error{};
   })
    .text("logs_dir", cfg.logs_dir)
    .integer("grace_ms", cfg.grace_ms, 0, max_duration_ms, "milliseconds")
    .integer("timeout_ms", cfg.timeout_ms, 0, max_duration_ms, "milliseconds")
    .integer("log_max_bytes", cfg.log_max_bytes, 1, int64_t{1} << 40, "bytes")
    .flag("stop_on_shutdown", cfg.stop_on_shutdown)
    .text("shim", cfg.shim);
  if (auto err = s.finish())
    return err;
  cfg.logs_dir = absolute_from(cfg.logs_dir, base_dir);
  cfg.shim = absolute_from(cfg.shim, base_dir);
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

caf::error parse_http(const json& http, http_config& cfg) {
  config_section s{"http", http};
  s.field("listen", [&](const json& value, const std::string& field) {
     if (!value.is_string())
       return config_error(field, std::string{"must be a string, not "}
                                    + value.type_name());
     if (auto where = parse_listen(value.get<std::string>()); !where)
       return std::move(where.error());
     cfg.listen = value.get<std::string>();
     return caf::error{};
   })
    .field("token", [&](const json& value, const std::string& field) {
      if (value.is_null())
        return caf::error{};
      if (!value.is_string())
        return config_error(field, std::string{"must be a string, not "}
                                     + value.type_name());
      if (value.get_ref<const std::string&>().size()
          < http_config::min_token_bytes)
        return config_error(field, "must be at least "
                                     + std::to_string(
                                       http_config::min_token_bytes)
                                     + " characters");
      cfg.token = value.get<std::string>();
      return caf::error{};
    })
    // Each is a thread; thousands only exhaust the machine.
    .integer("max_streams", cfg.max_streams, 1, 1024, "threads")
    .integer("threads", cfg.threads, 1, 1024, "threads")
    .integer("max_body_bytes", cfg.max_body_bytes, 1, int64_t{1} << 30,
             "bytes");
  return s.finish();
}

} // namespace

caf::expected<listen_address> parse_listen(const std::string& text) {
  return parse_host_port(text, "http.listen");
}

caf::expected<listen_address> parse_host_port(const std::string& text,
                                              const std::string& field) {
  auto colon = text.rfind(':');
  auto host = colon == std::string::npos ? text : text.substr(0, colon);
  auto port = colon == std::string::npos ? std::string{} : text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || port.empty() || port.size() > 5
      || port.find_first_not_of("0123456789") != std::string::npos
      || std::stoi(port) > 65535)
    return config_error(field, "must be HOST:PORT with a port from 0 to "
                               "65535, not '" + text + "'");
  return listen_address{host, static_cast<uint16_t>(std::stoi(port))};
}

/// The `scheduler` section: how idle CAF workers wait (scheduler_config).
caf::error parse_scheduler(const json& sched, scheduler_config& cfg) {
  config_section s{"scheduler", sched};
  s.integer("spin_polls", cfg.spin_polls, 0, 1'000'000, "polls")
    .integer("sleeping_polls", cfg.sleeping_polls, 0, 1'000'000, "polls")
    .field("poll_sleep_us", [&](const json& value, const std::string& field) {
      auto n = integer_in(value, field, 1, 10'000, "microseconds");
      if (!n)
        return std::move(n.error());
      cfg.poll_sleep = std::chrono::microseconds{*n};
      return caf::error{};
    });
  return s.finish();
}

/// The `history` section: retention of runs and service transitions.
caf::error parse_history(const json& section, history_retention& cfg) {
  config_section s{"history", section};
  s.integer("max_runs", cfg.max_runs, 0, 100'000'000, "runs")
    .integer("max_days", cfg.max_days, 0, 100'000, "days");
  return s.finish();
}

caf::expected<daemon_config> parse_config(const json& doc,
                                          const std::string& base_dir) {
  if (!doc.is_object())
    return make_error(errc::invalid_argument,
                      "config: must be a JSON object, not "
                        + std::string{doc.type_name()});
  daemon_config cfg;
  cfg.runtime.event_hub = true; // For /api/events and the log.
  config_section s{"", doc};
  s.text("name", cfg.name)
    .text("state_dir", cfg.state_dir)
    .field("http", [&](const json& value, const std::string&) {
      return parse_http(value, cfg.http);
    })
    .field("scheduler", [&](const json& value, const std::string&) {
      return parse_scheduler(value, cfg.runtime.scheduler);
    })
    .field("history", [&](const json& value, const std::string&) {
      return parse_history(value, cfg.runtime.history);
    })
    .field("service_defaults", [&](const json& value, const std::string& field) {
      if (!value.is_object())
        return config_error(field, "must be an object of status entries");
      cfg.runtime.service_defaults = value;
      return caf::error{};
    })
    .field("cluster", [&](const json& value, const std::string&) {
      return parse_cluster(value, base_dir, cfg.runtime.cluster);
    })
    .elsewhere("services")
    .elsewhere("monitor")
    .elsewhere("runner");
  if (auto err = s.finish())
    return err;
  cfg.state_dir = absolute_from(cfg.state_dir, base_dir);
  cfg.runtime.state_dir = cfg.state_dir;
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
