// The test runner: real scripts, real /proc. Every case checks that nothing
// of a run survives it and that no zombie is left. No sleeps: waits are on
// messages (output lines, replies) with deadlines. Here a run's life and
// records, the slot it holds and the queue; stops and escapees are in
// test_runner_stop.cpp, refused specs in test_runner_spec.cpp, the state
// without actors in test_runner_state.cpp, labctl run in test_labctl_run.cpp
// (one executable).
#include "proc_support.hpp"
#include "runner_support.hpp"
#include "support.hpp"

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace labrt;
using namespace labrt::test;

TEST_CASE("runs record exit codes in the runner and in test_execution",
  "[test_runner]") {
  fixture f;
  auto ok = f.run_to_end("exit_with.sh", {"0"});
  CHECK(ok.state == run_state::finished);
  CHECK(ok.exit_code == 0);
  CHECK(ok.signal == 0);
  CHECK(ok.stopped_by.empty());
  CHECK_FALSE(ok.timed_out);
  auto seven = f.run_to_end("exit_with.sh", {"7"});
  CHECK(seven.exit_code == 7);
  CHECK(seven.path == fs::canonical(scripts_dir + "/exit_with.sh").string());
  CHECK(seven.args == std::vector<std::string>{"7"});
  CHECK(seven.pid > 0);
  CHECK(seven.pgid == seven.pid);
  CHECK(seven.ended_at >= seven.started_at);
  CHECK(fs::exists(seven.log));
  require_nothing_left(seven);
  // test_execution holds the last run's record, not running.
  auto state = value_of(f.cl->tests().get_state());
  CHECK(state["running"] == false);
  CHECK(state["pid"].is_null());
  CHECK(state["run_id"] == seven.run_id);
  CHECK(state["exit_code"] == 7);
  CHECK(state["signal"].is_null());
  CHECK(state["script"] == seven.path);
  CHECK(state["args"] == json::array({"7"}));
  CHECK(state["timed_out"] == false);
  CHECK(state["log"] == seven.log);
  // History, newest first.
  auto hist = value_of(f.runner().history(10));
  REQUIRE(hist.size() == 2);
  CHECK(hist[0].run_id == seven.run_id);
  CHECK(hist[1].run_id == ok.run_id);
  CHECK(value_of(f.runner().get(ok.run_id)).exit_code == 0);
  CHECK(error_of(f.runner().get("no-such-run")) == errc::not_found);
  // JSON keys the CLI and the HTTP API rely on.
  json j = seven;
  for (auto key : {"run_id", "script", "args", "pid", "started_at", "ended_at",
         "exit_code", "signal", "timed_out", "stopped", "log"})
    CHECK(j.contains(key));
  run_record back = j;
  CHECK(back.run_id == seven.run_id);
  CHECK(back.exit_code == 7);
}

TEST_CASE("a running run is visible in test_execution", "[test_runner]") {
  fixture f;
  tail t{*f.rt};
  run_spec spec;
  spec.script = "sleep.sh";
  spec.args = {"30"};
  spec.bin = "/usr/bin/fboss_agent";
  spec.topology = "2x100G";
  auto rec = value_of(f.runner().start(spec));
  CHECK(rec.state == run_state::running);
  REQUIRE(t.wait_for("ready"));
  auto state = value_of(f.cl->tests().get_state());
  CHECK(state["running"] == true);
  CHECK(state["pid"] == rec.pid);
  CHECK(state["pgid"] == rec.pgid);
  CHECK(state["run_id"] == rec.run_id);
  CHECK(state["bin"] == "/usr/bin/fboss_agent");
  CHECK(state["topology"] == "2x100G");
  CHECK(state["started_at"].is_string());
  CHECK(state["exit_code"].is_null());
  CHECK(value_of(f.runner().status()).run_id == rec.run_id);
  auto end = value_of(f.runner().stop());
  CHECK(end.stopped_by == "request");
  CHECK(end.signal == SIGTERM);
  CHECK(end.signal_name == "SIGTERM");
  CHECK(end.duration_ms < 2000); // no KILL needed
  require_nothing_left(end);
  state = value_of(f.cl->tests().get_state());
  CHECK(state["running"] == false);
  CHECK(state["stopped_by"] == "request");
  CHECK(state["signal"] == json({{"number", SIGTERM}, {"name", "SIGTERM"}}));
}

TEST_CASE("death by SIGSEGV is recorded with the signal's name and number",
  "[test_runner]") {
  fixture f;
  auto rec = f.run_to_end("segv.sh");
  CHECK(rec.signal == SIGSEGV);
  CHECK(rec.signal_name == "SIGSEGV");
  CHECK(rec.exit_code == -1);
  json j = rec;
  CHECK(j["exit_code"].is_null());
  CHECK(j["signal"]["number"] == SIGSEGV);
  require_nothing_left(rec);
}

TEST_CASE("stop while idle is refused", "[test_runner]") {
  fixture f;
  CHECK(error_of(f.runner().stop()) == errc::not_running);
  CHECK(error_of(f.runner().stop("no-such-run")) == errc::not_running);
  CHECK(error_of(f.runner().status()) == errc::not_running);
}

TEST_CASE("a second start while busy is refused at once, naming the run",
  "[test_runner]") {
  fixture f;
  auto first = f.start("sleep.sh", {"30"});
  run_spec spec;
  spec.script = "exit_with.sh";
  auto second = f.runner().start(spec);
  REQUIRE_FALSE(second);
  CHECK(code_of(second.error()) == errc::already_running);
  auto text = message_of(second.error());
  INFO(text);
  CHECK(text.find(first.run_id) != std::string::npos);
  CHECK(text.find("sleep.sh") != std::string::npos);
  CHECK(text.find(std::to_string(first.pid)) != std::string::npos);
  CHECK(text.find("is running, started at " + to_iso8601(first.started_at))
    != std::string::npos);
  // Racing starts from many threads: all refused, the first run untouched.
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      client c{*f.rt};
      auto r = c.runner().start(spec);
      if (!r && code_of(r.error()) == errc::already_running)
        ++refused;
    });
  for (auto& th : threads)
    th.join();
  CHECK(refused == 8);
  CHECK(value_of(f.runner().status()).run_id == first.run_id);
  require_nothing_left(value_of(f.runner().stop()));
}

TEST_CASE("the queue runs in FIFO order and cancels", "[test_runner]") {
  fixture f;
  tail t{*f.rt};
  run_spec blocker;
  blocker.script = "sleep.sh";
  blocker.args = {"30"};
  auto first = value_of(f.runner().enqueue(blocker));
  CHECK(first.state == run_state::starting);
  std::vector<run_record> queued;
  for (auto code : {"1", "2", "3"}) {
    run_spec spec;
    spec.script = "exit_with.sh";
    spec.args = {code};
    queued.push_back(value_of(f.runner().enqueue(spec)));
    CHECK(queued.back().state == run_state::queued);
  }
  auto list = value_of(f.runner().queue());
  REQUIRE(list.size() == 3);
  for (size_t i = 0; i < 3; ++i)
    CHECK(list[i].run_id == queued[i].run_id);
  // Enqueue refuses bad scripts at once.
  run_spec bad;
  bad.script = "../nope.sh";
  CHECK(error_of(f.runner().enqueue(bad)) == errc::forbidden);
  // Cancel the middle one; others stay in order.
  auto cancelled = value_of(f.runner().cancel(queued[1].run_id));
  CHECK(cancelled.state == run_state::cancelled);
  CHECK(error_of(f.runner().cancel(queued[1].run_id)) == errc::not_found);
  CHECK(error_of(f.runner().cancel(first.run_id)) == errc::invalid_argument);
  CHECK(error_of(f.runner().stop(queued[0].run_id)) == errc::invalid_argument);
  list = value_of(f.runner().queue());
  REQUIRE(list.size() == 2);
  CHECK(list[0].run_id == queued[0].run_id);
  CHECK(list[1].run_id == queued[2].run_id);
  // Stop the blocker: the queue drains by itself.
  REQUIRE(t.wait_for("ready"));
  value_of(f.runner().stop(first.run_id));
  auto a
    = value_of(f.runner().wait(queued[0].run_id, std::chrono::seconds{30}));
  auto c
    = value_of(f.runner().wait(queued[2].run_id, std::chrono::seconds{30}));
  CHECK(a.exit_code == 1);
  CHECK(c.exit_code == 3);
  CHECK(a.ended_at <= c.started_at);
  CHECK(
    value_of(f.runner().wait(queued[1].run_id, std::chrono::seconds{1})).state
    == run_state::cancelled);
  CHECK(value_of(f.runner().queue()).empty());
  auto hist = value_of(f.runner().history(10));
  REQUIRE(hist.size() == 4);
  CHECK(hist[0].run_id == queued[2].run_id);
  CHECK(hist[1].run_id == queued[0].run_id);
  CHECK(hist[2].run_id == first.run_id);
  CHECK(hist[3].run_id == queued[1].run_id);
  require_nothing_left(c);
  // Subscribers saw every change of the queue, in order.
  while (t.queues.empty() || !t.queues.back().empty())
    REQUIRE(t.receive_one());
  auto q0 = queued[0].run_id;
  auto q1 = queued[1].run_id;
  auto q2 = queued[2].run_id;
  using ids = std::vector<std::string>;
  CHECK(t.queues
    == std::vector<ids>{{q0}, {q0, q1}, {q0, q1, q2}, {q0, q2}, {q2}, {}});
}

TEST_CASE("a subscriber gets a run's record before its output and after its end",
  "[test_runner]") {
  // What the event hub and every page that follows it rely on: all of a
  // run comes from the runner, its identity first.
  fixture f;
  tail t{*f.rt};
  for (int i = 0; i < 5; ++i) {
    auto rec = f.run_to_end("both_streams.sh");
    REQUIRE(rec.exit_code == 0);
    // (state of the run when each message came; "" = no update yet)
    std::string seen;
    std::vector<std::string> order;
    bool ended = false;
    while (!ended) {
      auto runs = t.runs.size();
      auto lines = t.received;
      REQUIRE(t.receive_one());
      if (t.runs.size() > runs && t.runs.back().run_id == rec.run_id) {
        seen = to_string(t.runs.back().state);
        order.push_back(seen);
        ended = t.runs.back().state == run_state::finished;
        if (seen == "running")
          CHECK(t.runs.back().pid == rec.pid);
      } else if (t.received > lines) {
        order.push_back("output after " + (seen.empty() ? "-" : seen));
      }
    }
    INFO(json(order).dump());
    REQUIRE(order.size() >= 3);
    CHECK(order.front() == "running");
    CHECK(order.back() == "finished");
    for (size_t k = 1; k + 1 < order.size(); ++k)
      CHECK(order[k] == "output after running");
    CHECK(t.runs.back().exit_code == 0);
  }
}

TEST_CASE("output lines are numbered as the log's newlines count them",
  "[test_runner]") {
  // How a client that reloads a live log joins it to the events it holds:
  // line n ends at the log's n-th '\n', even when every line reads the same.
  fixture f;
  tail t{*f.rt};
  for (auto script : {"both_streams.sh", "repeat.sh"}) {
    auto rec = f.run_to_end(script);
    REQUIRE(rec.exit_code == 0);
    t.lines.clear();
    while (t.runs.empty() || t.runs.back().run_id != rec.run_id
           || t.runs.back().state != run_state::finished)
      REQUIRE(t.receive_one());
    std::ifstream in{rec.log, std::ios::binary};
    std::string log{std::istreambuf_iterator<char>{in}, {}};
    INFO(script << ": " << log);
    // Both streams' bytes interleave in the log as they came (a line left
    // open by one stream may take in the other's), but the count holds; the
    // last line, which no '\n' ends, comes last.
    CHECK(size_t(std::count(log.begin(), log.end(), '\n')) + 1
          == t.lines.size());
    for (size_t i = 0; i < t.lines.size(); ++i)
      CHECK(t.lines[i].n == i + 1);
    CHECK(t.lines.back().text.find("tail") != std::string::npos);
    if (std::string{script} == "repeat.sh")
      CHECK(t.lines.size() == 601);
  }
}

TEST_CASE("a start while start_test holds the slot spawns nothing",
  "[test_runner]") {
  fixture f;
  REQUIRE(f.cl->tests().start_test("manual.sh", 4242));
  run_spec spec;
  spec.script = "print_env.sh";
  auto refused = f.runner().start(spec);
  REQUIRE_FALSE(refused);
  CHECK(code_of(refused.error()) == errc::already_running);
  CHECK(message_of(refused.error()).find("manual.sh") != std::string::npos);
  auto m = value_of(f.runner().metrics());
  CHECK(m["started"] == 0);
  auto hist = value_of(f.runner().history(1));
  REQUIRE(hist.size() == 1);
  CHECK(hist[0].state == run_state::failed);
  CHECK(hist[0].pid == 0);
  // The slot is still start_test's, untouched.
  auto state = value_of(f.cl->tests().get_state());
  CHECK(state["script"] == "manual.sh");
  CHECK(state["pid"] == 4242);
  CHECK(state["running"] == true);
  // Once it is free, the same start runs.
  REQUIRE(f.cl->tests().stop_test());
  auto rec = f.run_to_end("exit_with.sh", {"3"});
  CHECK(rec.exit_code == 3);
  state = value_of(f.cl->tests().get_state());
  CHECK(state["run_id"] == rec.run_id);
  CHECK(state["running"] == false);
  // A reset while a run holds the slot: the run's end leaves the slot alone.
  auto sleeper = f.start("sleep.sh", {"30"});
  REQUIRE(f.cl->tests().reset());
  REQUIRE(f.cl->tests().start_test("other.sh", 99));
  auto end = value_of(f.runner().stop());
  require_nothing_left(end);
  state = value_of(f.cl->tests().get_state());
  CHECK(state["script"] == "other.sh");
  CHECK(state["running"] == true);
  CHECK(state["pid"] == 99);
}

TEST_CASE("a start right after a run's end shows anywhere is accepted",
  "[test_runner]") {
  // The end shows in the runner's record, in a wait's answer, as "no run in
  // progress" and in test_execution's state; a start right after any of them
  // must not be refused as already_running.
  fixture f;
  run_spec spec;
  spec.script = "exit_with.sh";
  auto rec = value_of(f.runner().start(spec));
  for (int i = 0; i < 200; ++i) {
    INFO("run " << i << " (" << rec.run_id << "), seen through view "
                << i % 4);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    for (bool over = false; !over;) {
      REQUIRE(std::chrono::steady_clock::now() < until);
      switch (i % 4) {
        case 0:
          over = value_of(f.runner().get(rec.run_id)).state
            == run_state::finished;
          break;
        case 1:
          over = value_of(f.runner().wait(rec.run_id, deadline)).state
            == run_state::finished;
          break;
        case 2: {
          auto current = f.runner().status();
          over = !current && code_of(current.error()) == errc::not_running;
          break;
        }
        default: {
          auto state = value_of(f.cl->tests().get_state());
          over = state["run_id"] == rec.run_id && !state["ended_at"].is_null();
        }
      }
    }
    auto next = f.runner().start(spec);
    REQUIRE(next);
    rec = *next;
  }
  CHECK(value_of(f.runner().wait(rec.run_id, deadline)).exit_code == 0);
}

TEST_CASE("a run's reports wake the runner at once, directly or through a shim",
  "[test_runner]") {
  // Its watcher's thread once sent in the name of the worker that spawned
  // it: the runner then waited in that worker's queue, unwoken, until the
  // worker's idle sleep timed out. An hour's sleep makes that a failure.
  bool through_shim = GENERATE(false, true);
  INFO((through_shim ? "through a shim" : "directly"));
  temp_dir dir;
  runtime_config cfg;
  cfg.scheduler.deep_sleep = std::chrono::hours{1};
  cfg.runner.roots = {scripts_dir};
  cfg.runner.inherit_env = {"PATH"};
  if (through_shim)
    cfg.runner.runs_dir = dir / "runs";
  auto rt = start_runtime(cfg);
  client c{*rt};
  tail t{*rt};
  run_spec spec;
  spec.script = "sleep.sh";
  auto rec = value_of(c.runner().start(spec)); // the watcher's run_started
  REQUIRE(t.wait_for("ready"));                 // its output
  auto end = value_of(c.runner().stop(rec.run_id)); // its run_ended
  CHECK(end.stopped_by == "request");
  require_nothing_left(end);
}
