// The daemon config parser (parse_config, src/config.cpp) over any JSON text:
// a config it accepts holds only valid settings, and writing it back out and
// parsing that again gives the same config (so nothing was half-read).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

#include "labrt/config.hpp"
#include "src/service_rules.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

// Relative paths in the text resolve against a real directory holding the
// demo config's "tests" and "state", for checks that look at the disk.
const std::string& base_dir() {
  static const auto dir = [] {
    auto d = labrt::fuzz::make_temp_dir();
    std::filesystem::create_directories(d + "/tests");
    std::filesystem::create_directories(d + "/state");
    return d;
  }();
  return dir;
}

labrt::json write_out(const labrt::daemon_config& cfg) {
  auto& rt = cfg.runtime;
  auto& run = rt.runner;
  auto& http = cfg.http;
  return {
    {"name", cfg.name},
    {"state_dir", cfg.state_dir},
    {"service_defaults", rt.service_defaults},
    {"services", rt.monitor.services},
    {"monitor", {{"interval_ms", rt.monitor.interval_ms}}},
    {"runner",
     {{"roots", run.roots},
      {"logs_dir", run.logs_dir},
      {"grace_ms", run.grace_ms},
      {"timeout_ms", run.timeout_ms},
      {"log_max_bytes", run.log_max_bytes},
      {"stop_on_shutdown", run.stop_on_shutdown}}},
    {"http",
     {{"listen", http.listen},
      {"token", http.token.empty() ? labrt::json{} : labrt::json(http.token)},
      {"max_streams", http.max_streams},
      {"threads", http.threads},
      {"max_body_bytes", http.max_body_bytes}}},
  };
}

bool absolute(const std::string& path) {
  return path.empty() || path.front() == '/';
}

void check_valid(const labrt::daemon_config& cfg) {
  auto& run = cfg.runtime.runner;
  auto& http = cfg.http;
  auto colon = http.listen.rfind(':');
  LABRT_FUZZ_CHECK(colon != std::string::npos && colon > 0
                   && colon + 1 < http.listen.size());
  LABRT_FUZZ_CHECK(http.token.empty() || http.token.size() >= 16);
  LABRT_FUZZ_CHECK(http.max_streams > 0 && http.threads > 0
                   && http.max_body_bytes > 0);
  LABRT_FUZZ_CHECK(run.grace_ms >= 0 && run.timeout_ms >= 0
                   && run.log_max_bytes > 0);
  for (auto& root : run.roots)
    LABRT_FUZZ_CHECK(!root.empty() && absolute(root));
  LABRT_FUZZ_CHECK(absolute(run.logs_dir) && absolute(cfg.state_dir));
  LABRT_FUZZ_CHECK(cfg.runtime.service_defaults.is_object());
  auto interval = cfg.runtime.monitor.interval_ms;
  LABRT_FUZZ_CHECK(interval >= 10 && interval <= 3600 * 1000);
  std::set<std::string> names;
  for (auto& rule : cfg.runtime.monitor.services) {
    LABRT_FUZZ_CHECK(!labrt::validate_rule(rule));
    LABRT_FUZZ_CHECK(names.insert(rule.name).second);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto doc = labrt::json::parse(data, data + size, nullptr, false);
  if (doc.is_discarded())
    return 0;
  auto cfg = labrt::parse_config(doc, base_dir());
  if (!cfg)
    return 0;
  check_valid(*cfg);
  auto written = write_out(*cfg);
  auto again = labrt::parse_config(written, base_dir());
  LABRT_FUZZ_CHECK(static_cast<bool>(again));
  LABRT_FUZZ_CHECK(write_out(*again) == written);
  return 0;
}
