// The daemon's config file: the shipped demo config, and every kind of
// mistake refused with an error that names the field.
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "labrt/config.hpp"
#include "proc_support.hpp"
#include "support.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;

namespace {

const std::string demo_config = LABRT_DEMO_CONFIG;

/// The error message parse_config gives for `text`, or "" if it parses.
/// Without runner.roots in `text`, "/" is added: most cases are about
/// something else.
std::string problem_with(const std::string& text) {
  auto doc = json::parse(text);
  if (doc.is_object() && !doc.contains("runner"))
    doc["runner"] = {{"roots", {"/"}}};
  else if (doc.is_object() && doc["runner"].is_object()
           && !doc["runner"].contains("roots"))
    doc["runner"]["roots"] = {"/"};
  auto cfg = parse_config(doc, "/base");
  return cfg ? std::string{} : message_of(cfg.error());
}

/// The message for `text` as it is, roots or not.
std::string problem_as_is(const std::string& text) {
  auto cfg = parse_config(json::parse(text), "/base");
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

TEST_CASE("every section is read the same strict way", "[config]") {
  // An unknown key names the known ones, whichever section it is in.
  for (auto section : {"http", "runner", "monitor", "scheduler"}) {
    auto text = std::string{R"({")"} + section + R"(": {"nope": 1}})";
    auto problem = problem_with(text);
    INFO(problem);
    CHECK(mentions(problem, std::string{section} + ".nope is not a known "
                                                   "setting (known: "));
    // A section that is not an object says what it is instead.
    auto wrong = problem_with(std::string{R"({")"} + section + R"(": [1]})");
    INFO(wrong);
    CHECK(mentions(wrong, std::string{section} + " must be an object, not "
                                                 "array"));
    // A null section is an absent one: the defaults hold (a daemon's runner
    // has none for roots, so it is left out here).
    if (std::string{section} != "runner")
      CHECK(problem_with(std::string{R"({")"} + section + R"(": null})")
              .empty());
  }
  CHECK(mentions(problem_with(R"({"nope": 1})"),
                 "nope is not a known setting (known: name, state_dir, http"));
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

TEST_CASE("a daemon without script roots does not start", "[config]") {
  // The daemon runs what a request names, as its own user: "anywhere" must
  // be said explicitly.
  for (auto text : {R"({})", R"({"runner": {"grace_ms": 10}})",
                    R"({"runner": {"roots": []}})"}) {
    INFO(text);
    auto problem = problem_as_is(text);
    CHECK(mentions(problem, "runner.roots is required"));
    CHECK(mentions(problem, R"(["/"])"));
  }
  CHECK(problem_as_is(R"({"runner": {"roots": ["/"]}})").empty());
  temp_dir dir{"labrt-config"};
  std::ofstream{dir / "file"} << "x";
  auto missing = problem_as_is(
    json{{"runner", {{"roots", {"/", dir / "gone"}}}}}.dump());
  CHECK(mentions(missing, "runner.roots"));
  CHECK(mentions(missing, dir / "gone" + "', which does not exist"));
  auto file = problem_as_is(
    json{{"runner", {{"roots", {dir / "file"}}}}}.dump());
  CHECK(mentions(file, "which is not a directory"));
  // Relative roots resolve against the config file's directory.
  fs::create_directory(dir / "tests");
  std::ofstream{dir / "lab.json"} << R"({"runner": {"roots": ["tests"]}})";
  auto cfg = value_of(load_config(dir / "lab.json"));
  CHECK(cfg.runtime.runner.roots == std::vector<std::string>{dir / "tests"});
}

TEST_CASE("durations are integers from 0 to 30 days", "[config]") {
  for (auto field : {"grace_ms", "timeout_ms"}) {
    for (auto bad : {"1.5", "-1", "2592000001", "9223372036854775807",
                     "18446744073709551615", "\"5\""}) {
      auto text = std::string{R"({"runner": {")"} + field + "\": " + bad + "}}";
      INFO(text);
      auto problem = problem_with(text);
      CHECK(mentions(problem, std::string{"runner."} + field));
      CHECK(mentions(problem, "from 0 to 2592000000 (milliseconds)"));
      CHECK(mentions(problem, std::string{"not "} + (bad[0] == '"' ? "\"5\"" : bad)));
    }
    auto ok = json::parse(R"({"runner": {"roots": ["/"]}})");
    ok["runner"][field] = max_duration_ms;
    CHECK(parse_config(ok, "/base"));
  }
  CHECK(mentions(problem_with(R"({"runner": {"log_max_bytes": 18446744073709551615}})"),
                 "runner.log_max_bytes must be an integer from 1"));
  for (auto bad : {"1.5", "9", "9223372036854775807", "18446744073709551615"}) {
    INFO(bad);
    CHECK(mentions(problem_with(std::string{R"({"monitor": {"interval_ms": )"}
                                + bad + "}}"),
                   "monitor.interval_ms"));
  }
  CHECK(problem_with(R"({"monitor": {"interval_ms": 10}})").empty());
}

TEST_CASE("http threads and the listen address are checked at start",
          "[config]") {
  for (auto text : {R"({"http": {"threads": 0}})",
                    R"({"http": {"threads": 100000}})",
                    R"({"http": {"threads": 1.5}})",
                    R"({"http": {"max_streams": 5000}})"}) {
    INFO(text);
    CHECK(mentions(problem_with(text), "from 1 to 1024 (threads)"));
  }
  CHECK(problem_with(R"({"http": {"threads": 1024, "max_streams": 1}})")
          .empty());
  auto port = problem_with(R"({"http": {"listen": "127.0.0.1:70000"}})");
  CHECK(mentions(port, "http.listen must be HOST:PORT with a port from 0 to "
                       "65535, not '127.0.0.1:70000'"));
  CHECK(mentions(problem_with(R"({"http": {"listen": "127.0.0.1:http"}})"),
                 "http.listen"));
  for (auto good : {"localhost:0", "127.0.0.1:8080", "[::1]:9090"}) {
    INFO(good);
    CHECK(problem_with(json{{"http", {{"listen", good}}}}.dump()).empty());
  }
}

TEST_CASE("the scheduler section sets how idle workers wait", "[config]") {
  auto cfg = parse_config(json::parse(R"({"runner": {"roots": ["/"]},
    "scheduler": {"spin_polls": 500, "sleeping_polls": 20,
                  "poll_sleep_us": 5}})"),
                          "/");
  REQUIRE(cfg);
  CHECK(cfg->runtime.scheduler.spin_polls == 500);
  CHECK(cfg->runtime.scheduler.sleeping_polls == 20);
  CHECK(cfg->runtime.scheduler.poll_sleep == std::chrono::microseconds{5});
  CHECK(mentions(problem_with(R"({"scheduler": {"sleeping_polls": -1}})"),
                 "scheduler.sleeping_polls must be an integer from 0"));
  CHECK(mentions(problem_with(R"({"scheduler": {"poll_sleep_us": 0}})"),
                 "scheduler.poll_sleep_us must be an integer from 1"));
  CHECK(mentions(problem_with(R"({"scheduler": {"polls": 1}})"),
                 "scheduler.polls is not a known setting"));
}

TEST_CASE("the history section sets the retention of runs", "[config]") {
  auto cfg = parse_config(json::parse(R"({"runner": {"roots": ["/"]},
    "state_dir": "state", "history": {"max_runs": 500, "max_days": 30}})"),
                          "/base");
  REQUIRE(cfg);
  CHECK(cfg->runtime.history.max_runs == 500);
  CHECK(cfg->runtime.history.max_days == 30);
  CHECK(cfg->runtime.state_dir == "/base/state");
  auto defaults = parse_config(json::parse(R"({"runner": {"roots": ["/"]}})"),
                               "/base");
  REQUIRE(defaults);
  CHECK(defaults->runtime.history.max_runs == history_retention{}.max_runs);
  CHECK(defaults->runtime.state_dir.empty());
  CHECK(mentions(problem_with(R"({"history": {"max_runs": -1}})"),
                 "history.max_runs must be an integer from 0"));
  CHECK(mentions(problem_with(R"({"history": {"max_days": 1.5}})"),
                 "history.max_days must be an integer"));
  CHECK(mentions(problem_with(R"({"history": {"keep": 1}})"),
                 "history.keep is not a known setting"));
}
