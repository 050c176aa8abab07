// labctl as a client of the daemon: the real binary as a child process
// against an in-process API, its stdout, stderr and exit code.
#include <stdlib.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "http_support.hpp"
#include "labrt/event_text.hpp"
#include "labctl_support.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

using outcome = labctl_result;

/// labctl without a server (as a client: the default one).
outcome labctl(const std::vector<std::string>& args) {
  return run_labctl(args, {}, deadline);
}

/// labctl --server <the fixture's API> `args`.
outcome remote(const api& a, std::vector<std::string> args) {
  args.insert(args.begin(), {"--server", a.server->url()});
  return labctl(args);
}

json json_of(const outcome& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  auto value = last_json_line(r.out);
  REQUIRE_FALSE(value.is_discarded());
  return value;
}

} // namespace

TEST_CASE("status and services print tables, --json the API's JSON",
          "[labctl]") {
  api a;
  auto status = remote(a, {"status"});
  INFO(status.out << status.err);
  CHECK(status.code == 0);
  CHECK(has(status.out, "test           idle"));
  CHECK(has(status.out, "(test-lab)"));
  CHECK(has(status.out, "qsfp_service"));
  auto services = remote(a, {"services"});
  CHECK(services.code == 0);
  CHECK(services.out.rfind("SERVICE", 0) == 0);
  CHECK(has(services.out, "\nqsfp_service "));
  auto raw = json_of(remote(a, {"services", "--json"}));
  CHECK(raw.at("status").at("qsfp_service") == false);
  auto overview = json_of(remote(a, {"--json", "status"}));
  CHECK(overview.at("test").at("running") == false);
  CHECK(overview.at("server").at("name") == "test-lab");
}

TEST_CASE("test start, a refused second start, test stop", "[labctl]") {
  api a;
  auto started = remote(a, {"test", "start", "--json", "--topology", "t1",
                            "sleep.sh", "--", "30"});
  CHECK(started.code == 0);
  auto rec = json_of(started);
  CHECK(rec.at("state") == "running");
  CHECK(rec.at("args") == json{"30"});
  auto id = rec.at("run_id").get<std::string>();
  auto again = remote(a, {"test", "start", "exit_with.sh"});
  INFO(again.err);
  CHECK(again.code == 1);
  // The API's 409 message names the running run.
  CHECK(has(again.err, id));
  auto st = remote(a, {"test", "status"});
  CHECK(st.code == 0);
  CHECK(has(st.out, "topology"));
  CHECK(has(st.out, "t1"));
  auto stopped = remote(a, {"test", "stop", "--json"});
  CHECK(stopped.code == 0);
  auto final_rec = json_of(stopped);
  CHECK(final_rec.at("run_id") == id);
  CHECK(final_rec.at("stopped_by") == "request");
  auto nothing = remote(a, {"test", "stop"});
  CHECK(nothing.code == 1);
  CHECK(has(nothing.err, "labctl: "));
  auto history = remote(a, {"history", "-n", "5"});
  CHECK(history.code == 0);
  CHECK(has(history.out, id));
}

TEST_CASE("kv set, get, patch, rm, and a stale --if-rev is refused", "[labctl]") {
  api a;
  auto set = remote(a, {"kv", "set", "lab/cfg", R"({"a": 1})"});
  INFO(set.err);
  CHECK(set.code == 0);
  CHECK(has(set.out, "lab/cfg at revision 1"));
  auto got = json_of(remote(a, {"kv", "get", "lab/cfg", "--json"}));
  CHECK(got.at("value") == json{{"a", 1}});
  CHECK(got.at("revision") == 1);
  auto merged = remote(a, {"kv", "patch", "lab/cfg", R"({"b": 2})"});
  CHECK(merged.code == 0);
  CHECK(json::parse(merged.out) == json{{"a", 1}, {"b", 2}});
  auto patched = remote(a, {"kv", "patch", "lab/cfg", "--json-patch",
                            R"([{"op": "replace", "path": "/a", "value": 5}])"});
  CHECK(patched.code == 0);
  CHECK(json::parse(patched.out).at("a") == 5);
  // Revision 3 now: 1 is stale.
  auto stale = remote(a, {"kv", "set", "lab/cfg", "7", "--if-rev", "1"});
  CHECK(stale.code == 1);
  CHECK(has(stale.err, "revision 3"));
  CHECK(remote(a, {"kv", "set", "lab/cfg", "7", "--if-rev", "3"}).code == 0);
  CHECK(remote(a, {"kv", "get", "lab/cfg"}).out == "7\n");
  auto list = remote(a, {"kv", "list"});
  CHECK(list.out.rfind("KEY", 0) == 0);
  CHECK(has(list.out, "lab/cfg"));
  CHECK(remote(a, {"kv", "rm", "lab/cfg"}).code == 0);
  CHECK(remote(a, {"kv", "get", "lab/cfg"}).code == 4);
  CHECK(remote(a, {"kv", "rm", "lab/cfg"}).code == 4);
  // Not JSON: bad input, and nothing is written.
  auto bad = remote(a, {"kv", "set", "word", "hello"});
  CHECK(bad.code == 2);
  CHECK(has(bad.err, "not JSON"));
  CHECK(remote(a, {"kv", "get", "word"}).code == 4);
}

TEST_CASE("no server, a bad URL, bad usage, a missing token", "[labctl]") {
  // Port 1 on loopback: nothing listens, the connection is refused.
  auto down = labctl({"--server", "http://127.0.0.1:1", "status"});
  CHECK(down.code == 3);
  CHECK(has(down.err, "cannot reach"));
  CHECK(labctl({"--server", "ftp://x", "status"}).code == 2);
  CHECK(labctl({"--server", "http://127.0.0.1:1", "kv", "set", "k"}).code == 2);
  auto unknown = labctl({"no-such-command"});
  CHECK(unknown.code == 2);
  CHECK(has(unknown.err, "unknown command 'no-such-command'"));
  auto bogus = labctl({"--bogus"});
  CHECK(bogus.code == 2);
  CHECK(has(bogus.err, "unknown option '--bogus'"));
  auto nested = labctl({"kv", "nope"});
  CHECK(nested.code == 2);
  CHECK(has(nested.err, "labctl kv: unknown command 'nope'"));
  for (auto cmd : {"run", "test"}) {
    std::vector<std::string> args = {cmd, "--timeout", "abc", "x.sh"};
    if (std::string{cmd} == "test")
      args.insert(args.begin() + 1, "start");
    auto nan = labctl(args);
    INFO(nan.err);
    CHECK(nan.code == 2);
    CHECK(has(nan.err, "'abc' is not a number"));
  }
  CHECK(has(labctl({"run", "--grace", "1e300", "x.sh"}).err,
            "must be from 0 to 2592000 seconds"));
  auto help = labctl({"--help"});
  CHECK(help.code == 0);
  CHECK(has(help.out, "3 the server cannot be reached"));
  ::unsetenv("LABRT_TOKEN");
  http_config http;
  http.token = "0123456789abcdef-secret";
  api a{http};
  CHECK(remote(a, {"kv", "list"}).code == 1);
  CHECK(remote(a, {"--token", http.token, "kv", "list"}).code == 0);
}

TEST_CASE("test start --follow and logs -f exit with the run's outcome", "[labctl]") {
  api a;
  auto followed = remote(a, {"test", "start", "--follow", "sleep.sh", "--",
                             "0.2"});
  INFO(followed.err);
  CHECK(followed.code == 0);
  CHECK(followed.out == "ready\ndone\n");
  auto failed = remote(a, {"test", "start", "--follow", "--json",
                           "exit_with.sh", "--", "7"});
  CHECK(failed.code == 7);
  auto rec = json_of(failed);
  CHECK(rec.at("exit_code") == 7);
  auto id = rec.at("run_id").get<std::string>();
  // The log of a finished run, by id and as the last run.
  CHECK(remote(a, {"logs", "-f", "--run", id}).code == 7);
  auto history = json_of(remote(a, {"history", "--json"}));
  REQUIRE(history.size() == 2);
  auto first = history[1].at("run_id").get<std::string>();
  // Queries: the failed one by outcome, by words (sent encoded), by page.
  auto failures = json_of(remote(a, {"history", "--json", "--outcome", "failed"}));
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].at("run_id") == id);
  auto words = json_of(remote(a, {"history", "--json", "--grep", "exit_with.sh 7"}));
  REQUIRE(words.size() == 1);
  CHECK(words[0].at("run_id") == id);
  auto older = json_of(remote(a, {"history", "--json", "--before", id}));
  REQUIRE(older.size() == 1);
  CHECK(older[0].at("run_id") == first);
  CHECK(remote(a, {"history", "--outcome", "won"}).code == 1);
  auto log = remote(a, {"logs", "--run", first});
  CHECK(log.code == 0);
  CHECK(log.out == "ready\ndone\n");
  CHECK(remote(a, {"logs", "--run", "no-such-run"}).code == 4);
}

TEST_CASE("the event wording the daemon's log and watch share", "[labctl]") {
  event_describer words;
  auto test = [&](const std::string& key, const json& now) {
    return words.line("test", {{"key", key}, {"new", now}});
  };
  // A runner's run is told by its run events.
  auto run = [&](json fields) {
    json rec = {{"run_id", "r7"}, {"script", "link_test.sh"}, {"pid", 4891},
                {"state", "running"}};
    if (fields.is_object())
      rec.update(fields);
    return words.line("run", rec);
  };
  CHECK(run({}) == "test started: link_test.sh (pid 4891, run r7)");
  CHECK(run({{"state", "stopping"}}).empty());
  CHECK(run({{"state", "finished"},
             {"signal", {{"number", 15}, {"name", "SIGTERM"}}},
             {"stopped_by", "request"}, {"duration_ms", 1200}})
        == "test ended: link_test.sh (stopped by SIGTERM (request), 1200 ms, "
           "run r7)");
  CHECK(run({{"state", "finished"}, {"exit_code", 3}, {"duration_ms", 1200}})
        == "test ended: link_test.sh (exit code 3, 1200 ms, run r7)");
  CHECK(run({{"state", "finished"}, {"timed_out", true},
             {"signal", {{"number", 9}, {"name", "SIGKILL"}}},
             {"stopped_by", "timeout"}, {"duration_ms", 1200}})
        == "test ended: link_test.sh (timed out, stopped by SIGKILL, 1200 ms, "
           "run r7)");
  CHECK(run({{"state", "failed"}, {"pid", nullptr},
             {"error", "permission denied"}})
        == "test failed: link_test.sh (run r7: permission denied)");
  // Its fields in test_execution (the slot it holds) add nothing.
  CHECK(test("run_id", "r7").empty());
  CHECK(test("running", true).empty());
  CHECK(test("script", "link_test.sh").empty());
  CHECK(test("start_time", "2026-12-01T10:00:00.000Z").empty());
  CHECK(test("running", false).empty());
  // A test of the plain start_test API arrives field by field, in key order.
  CHECK(test("pid", 4891).empty());
  CHECK(test("run_id", nullptr).empty());
  CHECK(test("running", true).empty());
  CHECK(test("script", "manual.sh").empty());
  CHECK(test("start_time", "2026-12-01T10:00:00.000Z")
        == "test started: manual.sh (pid 4891)");
  CHECK(test("running", false) == "test ended: manual.sh");
  // A run already going when reading starts is named when it ends.
  event_describer late{{{"script", "qsfp_bringup.sh"}, {"running", true}}};
  CHECK(late.line("test", {{"key", "exit_code"}, {"new", 0}}).empty());
  CHECK(late.line("test", {{"key", "running"}, {"new", false}})
        == "test ended: qsfp_bringup.sh (exit code 0)");
  CHECK(words.line("service", {{"key", "record/qsfp_service"},
                               {"new", {{"running", true}, {"pids", {42}}}}})
        == "service qsfp_service up (pids [42])");
  CHECK(words.line("service", {{"key", "qsfp_service"}, {"new", true}})
          .empty());
  CHECK(words.line("kv", {{"key", "lab/a"}, {"new", 1}, {"revision", 3}})
        == "kv lab/a = 1 (revision 3)");
  CHECK(words.line("kv", {{"key", "lab/a"}, {"new", nullptr}})
        == "kv lab/a erased");
  CHECK(words.line("queue", {{"queue", json::array()}}) == "queue empty");
  CHECK(words.line("queue", {{"queue", {{{"script", "a.sh"},
                                         {"run_id", "r9"}}}}})
        == "queue: 1 waiting: a.sh (run r9)");
  CHECK(words.line("output", {{"run_id", "r7"}, {"lines", json::array()}})
          .empty());
}

TEST_CASE("watch prints what happens from now on, --since the history",
          "[labctl]") {
  api a;
  auto cli = a.connect();
  REQUIRE(cli.Put("/api/kv/before", "1", "application/json")->status == 200);
  // Once watch says it is watching, a run and a kv write; then Ctrl-C.
  auto watch = [&](std::vector<std::string> args, bool act) {
    bool acted = false;
    bool stopped = false;
    args.insert(args.begin(), {"--server", a.server->url(), "watch"});
    return run_labctl(
      args,
      [&](pid_t pid, const labctl_result& r) {
        if (!acted && has(r.err, "(Ctrl-C to stop)\n")) {
          acted = true;
          if (act) {
            cli.Put("/api/kv/during", "2", "application/json");
            cli.Post("/api/test/start",
                     R"({"script": "sleep.sh", "args": ["0.1"]})",
                     "application/json");
          }
        }
        if (!stopped && has(r.out, " sleep.sh (exit code")) {
          stopped = true;
          ::kill(pid, SIGINT);
        }
      },
      deadline);
  };
  auto now = watch({}, true);
  INFO(now.out << now.err);
  CHECK(now.code == 128 + SIGINT);
  CHECK_FALSE(has(now.out, "kv before"));
  CHECK(has(now.out, " kv during = 2 (revision "));
  CHECK(has(now.out, " test started: sleep.sh (pid "));
  CHECK(has(now.out, " test ended: sleep.sh (exit code 0, "));
  // One line per event, not one per field of the test record.
  CHECK_FALSE(has(now.out, " test args"));
  auto lines = std::count(now.out.begin(), now.out.end(), '\n');
  CHECK(lines <= 5); // kv, queue changes, start, end
  auto all = watch({"--since", "0"}, false);
  INFO(all.out << all.err);
  CHECK(has(all.out, " kv before = 1 (revision "));
  CHECK(has(all.out, " test ended: sleep.sh (exit code 0, "));
}

TEST_CASE("watch rides through a daemon restart and says what it missed",
          "[labctl]") {
  auto first = std::make_unique<api>();
  http_config again;
  again.listen = "127.0.0.1:" + std::to_string(first->server->port());
  std::unique_ptr<api> second;
  bool written = false;
  bool restarted = false;
  bool stopped = false;
  auto r = run_labctl(
    {"--server", first->server->url(), "watch"},
    [&](pid_t pid, const labctl_result& out) {
      if (!written && has(out.err, "(Ctrl-C to stop)\n")) {
        written = true;
        first->connect().Put("/api/kv/before", "1", "application/json");
      }
      // Once watch has the event (and its id), not before: a stop may end
      // the stream before it is sent.
      if (!restarted && has(out.out, " kv before = 1 (revision ")) {
        restarted = true;
        first.reset(); // Its stream ends; watch reconnects to the next.
        second = std::make_unique<api>(again);
        second->connect().Put("/api/kv/after", "2", "application/json");
      }
      if (!stopped && has(out.out, " kv after = 2 (revision ")) {
        stopped = true;
        ::kill(pid, SIGINT);
      }
    },
    deadline);
  INFO(r.out << r.err);
  CHECK(r.code == 128 + SIGINT);
  CHECK(has(r.err, "the event stream ended; reconnecting"));
  CHECK(has(r.err, " again from event "));
  CHECK(has(r.out, " kv before = 1 (revision "));
  // The restarted daemon cannot replay the old one's events, and says so.
  CHECK(has(r.out, "missed"));
}

TEST_CASE("watch that saw no event still misses nothing across a restart",
          "[labctl]") {
  auto first = std::make_unique<api>();
  http_config again;
  again.listen = "127.0.0.1:" + std::to_string(first->server->port());
  std::unique_ptr<api> second;
  bool restarted = false;
  bool stopped = false;
  auto r = run_labctl(
    {"--server", first->server->url(), "watch"},
    [&](pid_t pid, const labctl_result& out) {
      // The stream's first bytes say where "now" is: the event written by
      // the next daemon before watch reconnects is still shown.
      if (!restarted && has(out.err, "(Ctrl-C to stop)\n")) {
        restarted = true;
        first.reset();
        second = std::make_unique<api>(again);
        second->connect().Put("/api/kv/early", "3", "application/json");
      }
      if (!stopped && has(out.out, " kv early = 3 (revision ")) {
        stopped = true;
        ::kill(pid, SIGINT);
      }
    },
    deadline);
  INFO(r.out << r.err);
  CHECK(r.code == 128 + SIGINT);
  CHECK(has(r.err, " again from event "));
  CHECK(has(r.out, " kv early = 3 (revision "));
}
