// The daemon's config file: the shipped demo config, and every kind of
// mistake refused with an error that names the field.
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "labrt/config.hpp"
#include "support.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;

namespace {

const std::string demo_config = LABRT_DEMO_CONFIG;

/// The error message parse_config gives for `text`, or "" if it parses.
std::string problem_with(const std::string& text) {
  auto doc = json::parse(text);
  auto cfg = parse_config(doc, "/base");
  return cfg ? std::string{} : message_of(cfg.error());
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("the shipped demo config loads", "[config]") {
  auto cfg = value_of(load_config(demo_config));
  auto dir = fs::path{demo_config}.parent_path();
  CHECK(cfg.name == "lab-demo");
  REQUIRE(cfg.runtime.monitor.services.size() == 2);
  CHECK(cfg.runtime.monitor.services[0].name == "qsfp_service");
  CHECK(cfg.runtime.monitor.services[1].kind == match_kind::cmdline);
  // Paths are relative to the config file, not to the working directory.
  REQUIRE(cfg.runtime.runner.roots.size() == 1);
  CHECK(fs::equivalent(cfg.runtime.runner.roots[0], dir / "tests"));
  CHECK(cfg.state_dir == (dir / "state").lexically_normal().string());
  CHECK(cfg.runtime.runner.logs_dir == cfg.state_dir + "/logs");
  CHECK(cfg.http.listen == "127.0.0.1:8080");
  CHECK(cfg.http.token.empty());
  CHECK(cfg.runtime.event_hub);
  // Every demo script is there and executable.
  for (auto& entry : fs::directory_iterator{dir / "tests"})
    CHECK((fs::status(entry).permissions() & fs::perms::owner_exec)
          != fs::perms::none);
}

TEST_CASE("unknown keys are errors naming the field", "[config]") {
  CHECK(mentions(problem_with(R"({"htpp": {}})"), "htpp"));
  CHECK(mentions(problem_with(R"({"http": {"lisen": "x:1"}})"), "http.lisen"));
  CHECK(mentions(problem_with(R"({"runner": {"grace": 1}})"), "runner.grace"));
  CHECK(mentions(problem_with(R"({"monitor": {"interval": 5}})"),
                 "monitor.interval"));
  CHECK(mentions(problem_with(
                   R"({"services": [{"name": "a", "match": {"comm": "a"},
                                     "extra": 1}]})"),
                 "services[0]"));
}

TEST_CASE("wrong values are refused with the field", "[config]") {
  CHECK(mentions(problem_with(R"({"name": 5})"), "name"));
  CHECK(mentions(problem_with(R"({"http": {"listen": "localhost"}})"),
                 "http.listen"));
  CHECK(mentions(problem_with(R"({"http": {"max_streams": 0}})"),
                 "http.max_streams"));
  CHECK(mentions(problem_with(R"({"http": {"threads": -3}})"), "http.threads"));
  CHECK(mentions(problem_with(R"({"http": {"token": "short"}})"), "http.token"));
  CHECK(mentions(problem_with(R"({"runner": {"grace_ms": -1}})"),
                 "runner.grace_ms"));
  CHECK(mentions(problem_with(R"({"runner": {"stop_on_shutdown": "yes"}})"),
                 "runner.stop_on_shutdown"));
  CHECK(mentions(problem_with(R"({"monitor": {"interval_ms": 1}})"),
                 "monitor.interval_ms"));
  CHECK(mentions(problem_with(
                   R"({"services": [{"name": "a", "match": {"cmdline": "("}}]})"),
                 "services[0]"));
  CHECK(mentions(problem_with(R"({"service_defaults": []})"),
                 "service_defaults"));
  CHECK(problem_with(R"({"http": {"token": null}})").empty());
}

TEST_CASE("unreadable and malformed files", "[config]") {
  auto missing = load_config("/nonexistent/labrt.json");
  REQUIRE_FALSE(missing);
  CHECK(code_of(missing.error()) == errc::not_found);
  auto path = fs::temp_directory_path() / "labrt-config-test.json";
  std::ofstream{path} << "{\n  \"name\": \"x\",\n  oops\n}";
  auto bad = load_config(path.string());
  fs::remove(path);
  REQUIRE_FALSE(bad);
  CHECK(code_of(bad.error()) == errc::invalid_argument);
  CHECK(mentions(message_of(bad.error()), "line 3"));
}
