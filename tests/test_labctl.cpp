// labctl as a client of the daemon: the real binary as a child process
// against an in-process API, its stdout, stderr and exit code.
#include <stdlib.h>

#include "http_support.hpp"
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
  auto end = r.out.find_last_not_of('\n');
  auto begin = r.out.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  auto value = json::parse(r.out.substr(begin, end + 1 - begin), nullptr,
                           false);
  REQUIRE_FALSE(value.is_discarded());
  return value;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
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

TEST_CASE("kv set, get, patch, rm; a stale --if-rev is refused", "[labctl]") {
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
  CHECK(labctl({"no-such-command"}).code == 2);
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
  auto log = remote(a, {"logs", "--run", first});
  CHECK(log.code == 0);
  CHECK(log.out == "ready\ndone\n");
  CHECK(remote(a, {"logs", "--run", "no-such-run"}).code == 4);
}
