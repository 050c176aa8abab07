// The test-execution manager: the old TestExecutionManager API, atomic start.
#include "actors/test_execution.hpp"

#include "support.hpp"

using namespace labrt;
using namespace labrt::test;

TEST_CASE("test state: initial state", "[test_execution]") {
  test_execution_state st;
  CHECK_FALSE(st.is_running());
  auto s = st.state();
  CHECK(s["running"] == false);
  for (auto field : {"pid", "script", "bin", "topology", "topology_file",
                     "start_time"})
    CHECK(s[field].is_null());
  CHECK(st.get("nonexistent").is_null());
}

TEST_CASE("test state: start records fields and an ISO 8601 time",
          "[test_execution]") {
  test_execution_state st;
  auto s = value_of(st.start("link_test.py", 1234,
                             {{"bin", "sai_test"}, {"topology", "2x100G"},
                              {"topology_file", "/etc/topo.json"}}));
  CHECK(s["running"] == true);
  CHECK(st.get("pid") == 1234);
  CHECK(st.get("script") == "link_test.py");
  CHECK(st.get("bin") == "sai_test");
  CHECK(st.get("topology") == "2x100G");
  CHECK(st.get("topology_file") == "/etc/topo.json");
  auto t = st.get("start_time").get<std::string>();
  CHECK(t.size() == 24);
  CHECK(t[10] == 'T');
  CHECK(t.back() == 'Z');
}

TEST_CASE("test state: a second start is refused and names the running test",
          "[test_execution]") {
  test_execution_state st;
  value_of(st.start("first.py", 100, json::object()));
  auto before = st.state();
  auto second = st.start("second.py", 200, json::object());
  REQUIRE(error_of(second) == errc::already_running);
  auto text = message_of(second.error());
  CHECK(text.find("first.py") != std::string::npos);
  CHECK(text.find("100") != std::string::npos);
  CHECK(st.state() == before);
  CHECK(st.log_.refused == 1);
}

TEST_CASE("test state: a run's writes touch only a slot it holds",
          "[test_execution]") {
  test_execution_state st;
  // The runner reserves before it spawns: no pid yet.
  value_of(st.start("/tests/a.sh", nullptr, {{"run_id", "r1"}}));
  CHECK(st.is_running());
  CHECK(st.get("pid").is_null());
  value_of(st.update_run("r1", {{"pid", 42}}));
  CHECK(st.get("pid") == 42);
  CHECK(error_of(st.update_run("r2", {{"pid", 7}})) == errc::not_running);
  CHECK(st.get("pid") == 42);
  // Another run's release is a no-op; its own frees the slot.
  value_of(st.release("r2", {{"exit_code", 9}}));
  CHECK(st.is_running());
  value_of(st.release("r1", {{"exit_code", 0}}));
  CHECK_FALSE(st.is_running());
  CHECK(st.get("pid").is_null());
  CHECK(st.get("exit_code") == 0);
  CHECK(st.get("run_id") == "r1");
  // start_test takes the slot for no run: a late release of r1 leaves it.
  value_of(st.start("manual.py", 5, json::object()));
  CHECK(st.get("run_id").is_null());
  value_of(st.release("r1", json::object()));
  CHECK(st.is_running());
  CHECK(st.get("pid") == 5);
}

TEST_CASE("test state: stop keeps the rest, reset clears", "[test_execution]") {
  test_execution_state st;
  value_of(st.start("t.py", 5, {{"bin", "b"}, {"run_id", "r1"}}));
  auto s = st.stop();
  CHECK(s["running"] == false);
  CHECK(s["pid"].is_null());
  CHECK(s["script"] == "t.py");
  CHECK(s["bin"] == "b");
  CHECK(s["run_id"] == "r1");
  auto rev = st.log_.revision();
  st.stop(); // idempotent: nothing runs, nothing changes
  CHECK(st.log_.revision() == rev);
  s = st.reset();
  CHECK(s == test_execution_state::initial());
  CHECK_FALSE(s.contains("run_id"));
}

TEST_CASE("test state: wrong types and bad starts change nothing",
          "[test_execution]") {
  test_execution_state st;
  auto before = st.state();
  CHECK(error_of(st.start("", 1, json::object())) == errc::invalid_argument);
  CHECK(error_of(st.start("t.py", "1234", json::object())) == errc::wrong_type);
  CHECK(error_of(st.start("t.py", -5, json::object())) == errc::wrong_type);
  CHECK(error_of(st.start("t.py", 1, json::array())) == errc::wrong_type);
  CHECK(error_of(st.start("t.py", 1, {{"bin", 3}})) == errc::wrong_type);
  CHECK(error_of(st.start("t.py", 1, {{"running", false}}))
        == errc::invalid_argument);
  CHECK(error_of(st.update({{"running", "yes"}})) == errc::wrong_type);
  CHECK(error_of(st.update({{"topology", "x"}, {"pid", -1}})) == errc::wrong_type);
  CHECK(error_of(st.update("not an object")) == errc::wrong_type);
  CHECK(st.state() == before);
  CHECK(st.log_.revision() == 0);
}

TEST_CASE("test state: update_state sets fields and emits one change each",
          "[test_execution]") {
  test_execution_state st;
  value_of(st.update({{"topology", "4x25G"}, {"exit_code", 0}}));
  CHECK(st.get("topology") == "4x25G");
  CHECK(st.get("exit_code") == 0);
  auto events = st.log_.since(0);
  REQUIRE(events.size() == 2);
  CHECK(events[0].source == "test");
  CHECK(events[1].old_value.is_null());
}

TEST_CASE("test facade: the old TestExecutionManager API", "[test_execution]") {
  auto rt = start_runtime();
  client c{*rt};
  auto& t = c.tests();
  CHECK_FALSE(value_of(t.is_running()));
  value_of(t.start_test("run.py", 321, {{"bin", "x"}, {"topology", "t"}}));
  CHECK(value_of(t.is_running()));
  CHECK(value_of(t.get_pid()) == 321);
  CHECK(value_of(t.get_script()) == "run.py");
  CHECK(value_of(t.get_bin()) == "x");
  CHECK(value_of(t.get_topology()) == "t");
  CHECK(value_of(t.get_topology_file()).is_null());
  CHECK(value_of(t.get_start_time()).is_string());
  CHECK(error_of(t.start_test("other.py", 9)) == errc::already_running);
  value_of(t.stop_test());
  CHECK_FALSE(value_of(t.is_running()));
  CHECK(value_of(t.get_script()) == "run.py");
  value_of(t.update_state({{"topology_file", "f.json"}}));
  CHECK(value_of(t.get_state())["topology_file"] == "f.json");
  value_of(t.reset());
  CHECK(value_of(t.get_state()) == test_execution_state::initial());
}

TEST_CASE("test state: starts that wait get the slot in arrival order",
          "[test_execution]") {
  test_execution_state st;
  REQUIRE(st.start("a.py", 1, json::object()));
  CHECK(st.admit_waiting().empty()); // Nobody waits yet.
  auto first = st.wait_for_slot("b.py", 2, json::object(), {});
  auto second = st.wait_for_slot("c.py", 3, json::object(), {});
  CHECK(st.admit_waiting().empty()); // a.py still runs.
  st.stop();
  auto admitted = st.admit_waiting();
  REQUIRE(admitted.size() == 1);
  REQUIRE(admitted[0].second);
  CHECK(st.state_.at("script") == "b.py");
  CHECK_FALSE(st.expire(first)); // It no longer waits.
  // c.py's time is up while b.py runs: refused, naming b.py.
  auto late = st.expire(second);
  REQUIRE(late);
  REQUIRE_FALSE(late->second);
  CHECK(code_of(late->second.error()) == errc::already_running);
  CHECK(message_of(late->second.error()).find("b.py") != std::string::npos);
  st.stop();
  CHECK(st.admit_waiting().empty());
  CHECK(st.waiting_.empty());
}

TEST_CASE("test facade: a start that waits runs once the test before ends",
          "[test_execution]") {
  auto rt = start_runtime();
  client c{*rt};
  auto& t = c.tests();
  value_of(t.start_test("first.py", 1));
  // Two waiting starts from one sender arrive in order.
  caf::scoped_actor self{rt->system()};
  std::vector<std::string> order;
  auto wait_start = [&](const std::string& script, uint64_t ms) {
    return self->request(rt->test_execution(), deadline, atom::start_v, script,
                         json(7), json::object(), ms);
  };
  auto second = wait_start("second.py", 60'000);
  auto third = wait_start("third.py", 60'000);
  // Both wait: the first test still runs, and a plain start is refused.
  CHECK(error_of(t.start_test("other.py", 9)) == errc::already_running);
  value_of(t.stop_test());
  second.receive([&](json& state) { order.push_back(state.at("script")); },
                 [&](caf::error& err) { FAIL(render(err)); });
  CHECK(value_of(t.get_script()) == "second.py");
  value_of(t.stop_test());
  third.receive([&](json& state) { order.push_back(state.at("script")); },
                [&](caf::error& err) { FAIL(render(err)); });
  CHECK(order == std::vector<std::string>{"second.py", "third.py"});
  // A wait that runs out is refused like a plain start.
  auto refused = t.start_test("late.py", 4, json::object(),
                              std::chrono::milliseconds{50});
  CHECK(error_of(refused) == errc::already_running);
  CHECK(value_of(t.get_script()) == "third.py");
  // A wait on a free slot starts at once.
  value_of(t.stop_test());
  value_of(t.start_test("now.py", 5, json::object(), std::chrono::seconds{30}));
  CHECK(value_of(t.get_script()) == "now.py");
}
