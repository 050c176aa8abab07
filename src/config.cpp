// Reading the runner section of a config file.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

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

caf::error field_error(const std::string& field, const std::string& what) {
  return make_error(
    errc::invalid_argument, "config: runner." + field + " " + what);
}

caf::expected<int64_t> duration(const json& value, const std::string& field) {
  if (!value.is_number_integer())
    return field_error(field,
      "must be an integer (milliseconds), not "
        + std::string{value.type_name()});
  auto ms = value.get<int64_t>();
  if (ms < 0)
    return field_error(field, "must be >= 0");
  return ms;
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
        return field_error(key, "must be an array of directories");
      for (auto& root : value) {
        if (!root.is_string() || root.get<std::string>().empty())
          return field_error(key, "must hold non-empty strings");
        cfg.roots.push_back(absolute_from(root.get<std::string>(), base_dir));
      }
    } else if (key == "logs_dir") {
      if (!value.is_string())
        return field_error(key, "must be a string");
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
    } else if (key == "log_max_bytes") {
      if (!value.is_number_integer() || value.get<int64_t>() <= 0)
        return field_error(key, "must be a positive integer");
      cfg.log_max_bytes = value.get<uint64_t>();
    } else {
      return field_error(key,
        "is not a known setting (known: roots, "
        "logs_dir, grace_ms, timeout_ms, log_max_bytes)");
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

caf::expected<runner_config> load_runner_config(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return make_error(errc::not_found, "config: cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  auto doc = json::parse(text.str(), nullptr, false);
  if (doc.is_discarded())
    return make_error(
      errc::invalid_argument, "config: '" + path + "' is not valid JSON");
  if (!doc.is_object())
    return make_error(
      errc::invalid_argument, "config: '" + path + "' must hold a JSON object");
  auto base = fs::absolute(fs::path{path}).parent_path().string();
  auto i = doc.find("runner");
  return parse_runner_config(i == doc.end() ? json{} : *i, base);
}

} // namespace labrt
