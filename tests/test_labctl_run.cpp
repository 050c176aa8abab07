// labctl run: the exit-code contract (like timeout(1)), its output and record,
// signals that stop the whole tree (part of test_runner).
#include "labctl_support.hpp"
#include "proc_support.hpp"
#include "support.hpp"

#include <signal.h>
#include <sys/types.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "src/proc_tree.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

/// Runs labctl with `args`; `on_ready` is called once its stdout shows
/// "ready" (e.g. to signal it).
labctl_result labctl(
  std::vector<std::string> args, std::function<void(pid_t)> on_ready = {}) {
  bool ready_seen = false;
  return run_labctl(args, [&](pid_t pid, const labctl_result& r) {
    if (!ready_seen && on_ready && r.out.find("ready\n") != std::string::npos) {
      ready_seen = true;
      on_ready(pid);
    }
  });
}

} // namespace

TEST_CASE("labctl run exits like timeout(1)", "[test_runner]") {
  auto script
    = [](const std::string& name) { return scripts_dir + "/" + name; };
  SECTION("exit codes") {
    CHECK(labctl({"run", script("exit_with.sh"), "--", "3"}).code == 3);
    CHECK(labctl({"run", script("exit_with.sh")}).code == 0);
    CHECK(labctl({"run", script("segv.sh")}).code == 128 + SIGSEGV);
    CHECK(
      labctl({"run", "--timeout", "0.3", script("sleep.sh"), "--", "30"}).code
      == 124);
    CHECK(labctl({"run", script("no-such.sh")}).code == 127);
  }
  SECTION("output is streamed, --json ends with the record") {
    temp_dir dir;
    auto r = labctl(
      {"run", "--json", "--log", dir / "run.log", script("both_streams.sh")});
    CHECK(r.code == 0);
    CHECK(r.out.find("out 1\nout 2\nout tail\n") == 0);
    CHECK(r.err.find("err 1\nerr 2\n") != std::string::npos);
    auto rec = last_json_line(r.out);
    REQUIRE(rec.is_object());
    for (auto key : {"run_id", "script", "args", "pid", "started_at",
           "ended_at", "exit_code", "signal", "timed_out", "stopped", "log"})
      CHECK(rec.contains(key));
    CHECK(rec["exit_code"] == 0);
    CHECK(rec["log"] == dir / "run.log");
    CHECK(slurp(dir / "run.log").size() == 32);
  }
  SECTION("SIGTERM and SIGINT stop the whole tree") {
    for (int sig : {SIGTERM, SIGINT}) {
      auto r
        = labctl({"run", "--json", "--grace", "0.3", script("stubborn.sh")},
          [sig](pid_t pid) { ::kill(pid, sig); });
      CHECK(r.code == 128 + sig);
      auto rec = last_json_line(r.out);
      REQUIRE(rec.is_object());
      CHECK(rec["stopped"] == true);
      CHECK(rec["stopped_by"] == (sig == SIGINT ? "SIGINT" : "SIGTERM"));
      CHECK(find_by_cookie(rec["cookie"].get<std::string>()).empty());
    }
  }
  SECTION("a config names roots") {
    temp_dir dir;
    std::ofstream{dir / "cfg.json"}
      << json{{"runner", {{"roots", {scripts_dir}}, {"grace_ms", 200}}}}.dump();
    CHECK(
      labctl({"run", "--config", dir / "cfg.json", "exit_with.sh", "--", "5"})
        .code
      == 5);
    CHECK(
      labctl({"run", "--config", dir / "cfg.json", "/bin/true"}).code == 126);
    std::ofstream{dir / "bad.json"} << R"({"runner": {"nope": 1}})";
    auto r = labctl({"run", "--config", dir / "bad.json", "exit_with.sh"});
    CHECK(r.code == 125);
    CHECK(r.err.find("runner.nope") != std::string::npos);
  }
  CHECK(zombie_children().empty());
}
