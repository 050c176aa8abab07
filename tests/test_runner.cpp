// The test runner: real scripts, real /proc. Every case checks that nothing
// of a run survives it and that no zombie is left. No sleeps: waits are on
// messages (output lines, replies) with deadlines.
#include "labctl_support.hpp"
#include "proc_support.hpp"
#include "support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <caf/send.hpp>

#include "actors/test_runner.hpp"
#include "src/output_capture.hpp"
#include "src/proc_tree.hpp"
#include "src/process.hpp"

namespace fs = std::filesystem;
using namespace labrt;
using namespace labrt::test;

namespace {

/// Whether `pid` names a live (non-zombie) process.
bool alive(pid_t pid) {
  proc_stat st;
  return read_proc_stat(pid, st) && st.state != 'Z';
}

/// Nothing of the run is left: no process with its cookie, leader gone, no
/// zombie child of ours.
void require_nothing_left(const run_record& rec) {
  INFO("run " << rec.run_id << " cookie " << rec.cookie);
  CHECK_FALSE(rec.cookie.empty());
  CHECK(find_by_cookie(rec.cookie).empty());
  if (rec.pid > 0)
    CHECK_FALSE(alive(rec.pid));
  CHECK(zombie_children().empty());
}

/// A runtime whose runner takes scripts from tests/scripts and a temp root.
struct fixture {
  temp_dir dir;
  std::unique_ptr<runtime> rt;
  std::unique_ptr<client> cl;

  explicit fixture(int64_t grace_ms = 2000, uint64_t log_max = 1 << 20) {
    fs::create_directories(dir / "root");
    runtime_config cfg;
    cfg.runner.roots = {scripts_dir, dir / "root"};
    cfg.runner.logs_dir = dir / "logs";
    cfg.runner.grace_ms = grace_ms;
    cfg.runner.log_max_bytes = log_max;
    cfg.runner.inherit_env = {"PATH"};
    rt = start_runtime(cfg);
    cl = std::make_unique<client>(*rt);
  }

  ~fixture() {
    cl.reset();
    rt.reset();
  }

  runner_facade& runner() {
    return cl->runner();
  }

  run_record start(const std::string& script,
    std::vector<std::string> args = {}, int64_t timeout_ms = -1) {
    run_spec spec;
    spec.script = script;
    spec.args = std::move(args);
    spec.timeout_ms = timeout_ms;
    return value_of(runner().start(spec));
  }

  run_record run_to_end(
    const std::string& script, std::vector<std::string> args = {}) {
    auto rec = start(script, std::move(args));
    return value_of(runner().wait(rec.run_id, std::chrono::seconds{60}));
  }
};

/// A subscriber to run output: a scoped actor that answers every batch.
struct tail {
  caf::scoped_actor self;
  std::vector<output_line> lines;
  std::vector<run_record> runs; ///< Each run_update, in order.
  std::vector<std::vector<std::string>> queues; ///< Run ids of each update.
  uint64_t received = 0; ///< Lines received, kept or not.
  uint64_t dropped = 0;
  bool keep = true; ///< Whether to keep lines, not just count them.
  bool closed = false; ///< Got the batch of run id "closed" (see close()).

  explicit tail(runtime& rt) : self(rt.system()) {
    bool ok = false;
    self
      ->request(rt.runner(), deadline, atom::subscribe_v,
        caf::actor_cast<run_output_actor>(self))
      .receive([&](std::string&) { ok = true; },
        [&](caf::error& err) { FAIL("subscribe: " << render(err)); });
    REQUIRE(ok);
  }

  bool receive_one() {
    bool got = false;
    self->receive(
      [&](output_batch& batch) {
        if (batch.run_id == "closed")
          closed = true;
        dropped += batch.dropped;
        received += batch.lines.size();
        if (keep)
          for (auto& line : batch.lines)
            lines.push_back(std::move(line));
        got = true;
      },
      [&](run_update& up) {
        runs.push_back(std::move(up.run));
        got = true;
      },
      [&](queue_update& up) {
        std::vector<std::string> ids;
        for (auto& run : up.queue)
          ids.push_back(run.run_id);
        queues.push_back(std::move(ids));
        got = true;
      },
      caf::after(deadline) >> [] {});
    return got;
  }

  /// Makes the receive loop of another thread end.
  void close() {
    caf::anon_send(
      caf::actor_cast<run_output_actor>(self), output_batch{"closed", {}, 0});
  }

  /// Waits until a line equal to `text` has arrived.
  bool wait_for(const std::string& text) {
    for (;;) {
      for (auto& line : lines)
        if (line.text == text)
          return true;
      if (!receive_one())
        return false;
    }
  }

  /// Lines that start with `tag + " "`, as pids.
  std::vector<pid_t> pids_tagged(const std::string& tag) const {
    std::vector<pid_t> result;
    for (auto& line : lines)
      if (line.text.rfind(tag + " ", 0) == 0)
        result.push_back(std::stoi(line.text.substr(tag.size() + 1)));
    return result;
  }
};

} // namespace

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

TEST_CASE("stop escalates to SIGKILL for a tree that ignores SIGTERM",
  "[test_runner]") {
  fixture f{300};
  tail t{*f.rt};
  auto rec = f.start("stubborn.sh");
  REQUIRE(t.wait_for("ready"));
  auto kids = t.pids_tagged("child");
  REQUIRE(kids.size() == 2);
  for (auto kid : kids)
    CHECK(alive(kid));
  auto end = value_of(f.runner().stop(rec.run_id));
  CHECK(end.signal == SIGKILL);
  CHECK(end.duration_ms >= 300);
  CHECK(end.stopped_by == "request");
  for (auto kid : kids)
    CHECK_FALSE(alive(kid));
  require_nothing_left(end);
}

TEST_CASE("processes that escape by setsid or a double fork are killed",
  "[test_runner]") {
  fixture f{500};
  fs::create_directories(f.dir / "esc");
  tail t{*f.rt};
  auto started = f.start("escape_wait.sh", {f.dir / "esc"}, 20000);
  auto rec
    = value_of(f.runner().wait(started.run_id, std::chrono::seconds{30}));
  // The script itself exited 0; what it left behind was found by cookie,
  // stopped, and reaped.
  CHECK(rec.exit_code == 0);
  CHECK(rec.stopped_by.empty());
  CHECK(rec.leftovers == 2);
  while (t.pids_tagged("setsid").empty() || t.pids_tagged("orphan").empty())
    REQUIRE(t.receive_one());
  CHECK_FALSE(alive(t.pids_tagged("setsid")[0]));
  CHECK_FALSE(alive(t.pids_tagged("orphan")[0]));
  require_nothing_left(rec);
}

TEST_CASE(
  "a flood on both streams neither deadlocks nor balloons", "[test_runner]") {
  constexpr uint64_t cap = 1 << 20;
  fixture f{2000, cap};
  // A subscriber that counts lines without keeping them: kept, 600k lines
  // would be the test's own 90 MB, not labrt's.
  tail t{*f.rt};
  t.keep = false;
  auto flood_run = [&](uint64_t flood) {
    t.closed = false;
    t.received = t.dropped = 0;
    auto rec = f.start("flood.sh", {std::to_string(flood)});
    // Drain our subscription while the run goes on, then get the record.
    caf::expected<run_record> end{make_error(errc::timeout, "not yet")};
    std::thread waiter{[&] {
      client c{*f.rt};
      end = c.runner().wait(rec.run_id, std::chrono::seconds{300});
      t.close();
    }};
    while (!t.closed && t.receive_one()) {
    }
    waiter.join();
    REQUIRE(end);
    return *end;
  };
  // A small flood first: what the first run allocates once (logs, actor
  // state, allocator arenas) is not growth.
  flood_run(6'000'000);
  auto before = value_of(f.runner().metrics());
  constexpr uint64_t flood = 60'000'000;
  run_record end;
  [[maybe_unused]] auto growth_kb
    = peak_growth_kb([&] { end = flood_run(flood); });
  CHECK(end.exit_code == 0);
  CHECK(end.out_bytes == flood);
  CHECK(end.err_bytes == flood);
  CHECK(end.log_cut_bytes == 2 * flood - cap);
  auto marker
    = "\n[labrt: " + std::to_string(2 * flood - cap) + " bytes cut]\n";
  CHECK(fs::file_size(end.log) == cap + marker.size());
  CHECK(slurp(end.log).substr(cap / 2, marker.size()) == marker);
  // Every line reached the runner or was counted as dropped.
  auto m = value_of(f.runner().metrics());
  auto delta = [&](const char* key) {
    return m[key].get<uint64_t>() - before[key].get<uint64_t>();
  };
  CHECK(delta("lines") + delta("lines_dropped") == flood / 100 + 1);
  CHECK(delta("lines_dropped") == end.lines_dropped);
  CHECK(t.received + t.dropped <= flood / 100 + 1);
  CHECK(t.received > 0);
  require_nothing_left(end);
// Sanitizers add shadow memory that dwarfs what is measured here.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // 120 MB went through; what labrt holds at once is a few credit-bounded
  // batches and the log's head and tail.
  INFO("peak RSS growth " << growth_kb << " kB");
  CHECK(growth_kb < 8 * 1024);
#endif
}

TEST_CASE(
  "a run past its timeout is stopped and marked timed out", "[test_runner]") {
  fixture f;
  auto rec = f.start("sleep.sh", {"30"}, 300);
  auto end = value_of(f.runner().wait(rec.run_id, std::chrono::seconds{30}));
  CHECK(end.timed_out);
  CHECK(end.stopped_by == "timeout");
  CHECK(end.signal == SIGTERM);
  CHECK(end.duration_ms >= 300);
  CHECK(end.duration_ms < 2000);
  require_nothing_left(end);
  auto state = value_of(f.cl->tests().get_state());
  CHECK(state["timed_out"] == true);
  CHECK(state["running"] == false);
}

TEST_CASE("bad scripts are refused and leave test_execution unchanged",
  "[test_runner]") {
  fixture f;
  std::ofstream{f.dir / "root/plain.sh"} << "#!/bin/sh\nexit 0\n";
  ::chmod((f.dir / "root/plain.sh").c_str(), 0644);
  std::ofstream{f.dir / "root/badinterp.sh"} << "#!/no/such/interp\n";
  ::chmod((f.dir / "root/badinterp.sh").c_str(), 0755);
  std::ofstream{f.dir / "secret.sh"} << "#!/bin/sh\nexit 0\n";
  ::chmod((f.dir / "secret.sh").c_str(), 0755);
  fs::create_symlink(f.dir / "secret.sh", f.dir / "root/link_out.sh");
  auto before = value_of(f.cl->tests().metrics());
  auto code = [&](const std::string& script) {
    run_spec spec;
    spec.script = script;
    auto r = f.runner().start(spec);
    if (r)
      return errc{};
    INFO(render(r.error()));
    return code_of(r.error());
  };
  CHECK(code("missing.sh") == errc::not_found);
  CHECK(code("../secret.sh") == errc::forbidden);
  CHECK(code(f.dir / "secret.sh") == errc::forbidden);
  CHECK(code("link_out.sh") == errc::forbidden);
  CHECK(code("/etc/passwd") == errc::forbidden);
  CHECK(code("sub/../../secret.sh") == errc::forbidden);
  CHECK(code("") == errc::invalid_argument);
  // Refused before the slot is taken: test_execution saw nothing.
  auto after = value_of(f.cl->tests().metrics());
  CHECK(after["revision"] == before["revision"]);
  // An exec failure is known only at the spawn, once the run holds the
  // slot: it is freed again, with the reason, and a clear message.
  CHECK(code("plain.sh") == errc::spawn_failed);
  run_spec spec;
  spec.script = "badinterp.sh";
  auto r = f.runner().start(spec);
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == errc::spawn_failed);
  CHECK(message_of(r.error()).find("bad interpreter") != std::string::npos);
  auto state = value_of(f.cl->tests().get_state());
  CHECK(state["running"] == false);
  CHECK(state["pid"].is_null());
  CHECK(state["error"].get<std::string>().find("bad interpreter")
        != std::string::npos);
  CHECK(zombie_children().empty());
  // The runner is idle again: a good script runs.
  CHECK(f.run_to_end("exit_with.sh", {"3"}).exit_code == 3);
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

TEST_CASE("runtime shutdown stops the current run", "[test_runner]") {
  temp_dir dir;
  runtime_config cfg;
  cfg.runner.roots = {scripts_dir};
  cfg.runner.grace_ms = 300;
  auto rt = start_runtime(cfg);
  client c{*rt};
  run_spec spec;
  spec.script = "stubborn.sh";
  auto rec = value_of(c.runner().start(spec));
  auto leader = pidfd_open(rec.pid);
  REQUIRE(leader);
  unique_fd guard{*leader};
  rt->shutdown();
  pollfd pfd{guard.get(), POLLIN, 0};
  CHECK(::poll(&pfd, 1, 0) == 1); // exited before shutdown returned
  CHECK(find_by_cookie(rec.cookie).empty());
  CHECK(zombie_children().empty());
  CHECK(error_of(c.runner().status()) == errc::shutting_down);
}

TEST_CASE("the runner config section is read strictly", "[test_runner]") {
  temp_dir dir;
  auto write = [&](const std::string& text) {
    std::ofstream{dir / "cfg.json"} << text;
    return load_runner_config(dir / "cfg.json");
  };
  auto ok = write(R"({"runner": {"roots": ["scripts", "/abs"],
                      "logs_dir": "logs", "grace_ms": 100,
                      "timeout_ms": 0, "log_max_bytes": 4096},
                      "other": {"left": "alone"}})");
  REQUIRE(ok);
  CHECK(ok->roots == std::vector<std::string>{dir / "scripts", "/abs"});
  CHECK(ok->logs_dir == dir / "logs");
  CHECK(ok->grace_ms == 100);
  CHECK(ok->log_max_bytes == 4096);
  CHECK(write("{}"));
  auto bad = write(R"({"runner": {"grace": 5}})");
  REQUIRE_FALSE(bad);
  CHECK(message_of(bad.error()).find("runner.grace") != std::string::npos);
  bad = write(R"({"runner": {"grace_ms": -1}})");
  REQUIRE_FALSE(bad);
  CHECK(message_of(bad.error()).find("grace_ms") != std::string::npos);
  bad = write(R"({"runner": {"roots": "x"}})");
  REQUIRE_FALSE(bad);
  CHECK(message_of(bad.error()).find("roots") != std::string::npos);
  CHECK_FALSE(write("not json"));
  CHECK_FALSE(load_runner_config(dir / "missing.json"));
}

TEST_CASE("runner state logic without actors", "[test_runner]") {
  // Start times order processes: ours is older than a child we spawn.
  proc_stat me;
  REQUIRE(read_proc_stat(::getpid(), me));
  CHECK(me.start_time > 0);
  CHECK(run_members(0, "no-such-cookie", 0).empty());
  temp_dir dir;
  test_runner_state st;
  st.cfg_.roots = {scripts_dir};
  st.cfg_.logs_dir = dir / "logs";
  st.cfg_.history_capacity = 2;
  st.cookie_base_ = "cookie";
  run_spec spec;
  spec.script = "exit_with.sh";
  spec.args = {"4"};
  auto rec = st.admit(spec);
  REQUIRE(rec);
  CHECK(rec->state == run_state::queued);
  CHECK(rec->log == dir / "logs" + ("/" + rec->run_id + ".log"));
  CHECK(rec->cookie == "cookie-" + rec->run_id);
  auto rec2 = st.admit(spec);
  REQUIRE(rec2);
  CHECK(rec2->run_id != rec->run_id);
  spec.script = "../etc/passwd";
  CHECK(code_of(st.admit(spec).error()) == errc::forbidden);
  run_spec with_env;
  with_env.script = "exit_with.sh";
  with_env.args = {"4"};
  with_env.env = {{"X", "1"}};
  auto job = st.make_job(*rec, with_env);
  CHECK(job.spec.argv == std::vector<std::string>{rec->path, "4"});
  CHECK(job.spec.env.at("X") == "1");
  CHECK(job.spec.cookie == rec->cookie);
  run_ended end;
  end.exit_code = 4;
  end.stopped_by = "timeout";
  end.timed_out = true;
  run_started start;
  start.pid = 42;
  start.pgid = 42;
  start.at = caf::make_timestamp();
  start.path = "/checked/at/spawn";
  rec->state = run_state::starting;
  test_runner_state::apply_start(*rec, start);
  CHECK(rec->state == run_state::running);
  CHECK(rec->path == "/checked/at/spawn");
  auto reserve = test_runner_state::reserve_fields(*rec);
  CHECK(reserve["run_id"] == rec->run_id);
  CHECK(reserve["exit_code"].is_null());
  CHECK_FALSE(reserve.contains("pid")); // start_test's own argument
  auto started = test_runner_state::start_fields(*rec);
  CHECK(started["pid"] == 42);
  CHECK(started["script"] == "/checked/at/spawn");
  test_runner_state::apply_end(*rec, end);
  CHECK(rec->state == run_state::finished);
  CHECK(rec->ended_at >= rec->started_at);
  auto fields = test_runner_state::end_fields(*rec);
  CHECK(fields["exit_code"] == 4);
  CHECK(fields["timed_out"] == true);
  CHECK(fields["stopped_by"] == "timeout");
  // Bounded history, newest first; queue cancel.
  st.remember(*rec);
  st.remember(*rec2);
  run_record third = *rec2;
  third.run_id = "third";
  st.remember(third);
  auto hist = st.history(10);
  REQUIRE(hist.size() == 2);
  CHECK(hist[0].run_id == "third");
  st.queue_.emplace_back(third, run_spec{});
  CHECK(st.queued().size() == 1);
  CHECK(st.cancel("third"));
  CHECK(code_of(st.cancel("third").error()) == errc::not_found);
}

// -- labctl run: the exit-code contract
// ------------------------------------------

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

json last_json_line(const std::string& out) {
  auto end = out.find_last_not_of('\n');
  auto begin = out.rfind('\n', end);
  auto line = out.substr(begin == std::string::npos ? 0 : begin + 1,
    end - (begin == std::string::npos ? 0 : begin + 1) + 1);
  return json::parse(line, nullptr, false);
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

// -- the checked file is the file run; bounded specs; closed records
// -------------

namespace {

void write_script(const std::string& path, const std::string& text,
  mode_t mode = 0755) {
  std::ofstream{path} << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

/// The code of a refused start, or errc{} if it started.
errc start_code(fixture& f, const run_spec& spec) {
  auto r = f.runner().start(spec);
  if (r) {
    value_of(f.runner().wait(r->run_id, std::chrono::seconds{60}));
    return errc{};
  }
  INFO(render(r.error()));
  CHECK_FALSE(message_of(r.error()).empty());
  return code_of(r.error());
}

} // namespace

TEST_CASE("a directory swapped for a symlink out of the root never runs the "
          "outside script",
  "[test_runner]") {
  fixture f;
  auto root = f.dir / "root";
  auto marker = f.dir / "escaped";
  fs::create_directories(root + "/sw");
  fs::create_directories(f.dir / "outside");
  write_script(root + "/sw/t.sh", "#!/bin/sh\necho inside\n");
  write_script(f.dir / "outside/t.sh",
    "#!/bin/sh\ntouch '" + marker + "'\necho outside\n");
  fs::create_directory_symlink(f.dir / "outside", root + "/swl");
  auto real_root = fs::canonical(root).string();
  // Swaps root/sw (the directory) and root/swl (the symlink out) as fast as
  // it can while the starts go on: each check and exec meets either.
  std::atomic<bool> done{false};
  std::atomic<uint64_t> flips{0};
  std::thread flipper{[&] {
    auto a = root + "/sw";
    auto b = root + "/swl";
    while (!done.load()) {
      if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE)
        == 0)
        ++flips;
    }
  }};
  int ran = 0;
  int refused = 0;
  // 200 starts, more if fewer than 10 of them got past both checks.
  for (int i = 0; i < 2000 && (i < 200 || ran < 10); ++i) {
    run_spec spec;
    spec.script = "sw/t.sh";
    auto r = f.runner().start(spec);
    if (!r) {
      INFO(render(r.error()));
      CHECK(code_of(r.error()) == errc::forbidden);
      ++refused;
      continue;
    }
    auto rec = value_of(f.runner().wait(r->run_id, std::chrono::seconds{60}));
    ++ran;
    INFO("run " << rec.run_id << " path " << rec.path);
    CHECK(rec.exit_code == 0);
    // The record names the file that ran (its directory may have been
    // renamed to swl by the time the path was read: still the same file).
    CHECK((rec.path == real_root + "/sw/t.sh"
      || rec.path == real_root + "/swl/t.sh"));
    CHECK(rec.path == r->path);
    CHECK(slurp(rec.log) == "inside\n");
  }
  done = true;
  flipper.join();
  // Refused by the watcher's check, after the runner's had passed.
  size_t at_spawn = 0;
  for (auto& rec : value_of(f.runner().history(1000)))
    at_spawn += rec.state == run_state::failed ? 1 : 0;
  INFO("ran " << ran << ", refused " << refused << " (at the spawn "
              << at_spawn << "), flips " << flips);
  CHECK_FALSE(fs::exists(marker));
  CHECK(ran > 0);
  CHECK(flips > 0);
  CHECK(zombie_children().empty());
}

TEST_CASE("a script in the root runs with its name in LABRT_SCRIPT",
  "[test_runner]") {
  fixture f;
  auto root = f.dir / "root";
  fs::create_directories(root + "/sub");
  write_script(root + "/sub/env.sh", "#!/bin/sh\necho \"$LABRT_SCRIPT\"\n");
  // Symlinks that stay inside the root, relative and absolute, still run.
  fs::create_symlink("sub/env.sh", root + "/rel.sh");
  fs::create_symlink(root + "/sub/env.sh", root + "/abs.sh");
  auto real = fs::canonical(root + "/sub/env.sh").string();
  for (auto name : {"sub/env.sh", "rel.sh", "abs.sh"}) {
    INFO(name);
    auto rec = f.run_to_end(name);
    CHECK(rec.exit_code == 0);
    CHECK(rec.path == real);
    CHECK(slurp(rec.log) == real + "\n");
  }
  // With use_shell, /bin/sh reads the opened file (no exec bit needed).
  write_script(root + "/sub/plain.sh", "echo \"$LABRT_SCRIPT\"\n", 0644);
  run_spec shell;
  shell.script = "sub/plain.sh";
  shell.use_shell = true;
  auto rec = value_of(f.runner().start(shell));
  rec = value_of(f.runner().wait(rec.run_id, std::chrono::seconds{60}));
  CHECK(rec.exit_code == 0);
  auto plain = fs::canonical(root + "/sub/plain.sh").string();
  CHECK(slurp(rec.log) == plain + "\n");
}

TEST_CASE("timeout_ms must be an integer from 0 to 30 days", "[test_runner]") {
  auto spec_of = [](const std::string& timeout) {
    return json::parse(R"({"script": "x.sh", "timeout_ms": )" + timeout + "}")
      .get<run_spec>();
  };
  CHECK(spec_of("0").timeout_ms == 0);
  CHECK(spec_of("-1").timeout_ms == -1);
  CHECK(spec_of("2592000000").timeout_ms == run_limits::max_timeout_ms);
  for (auto bad : {"1.5", "9223372036854775807", "9223372036854",
         "18446744073709551615", "2592000001", "-2", "\"5\"", "null"}) {
    INFO(bad);
    try {
      spec_of(bad);
      FAIL("accepted");
    } catch (const json::exception& ex) {
      CHECK(std::string{ex.what()}.find("timeout_ms") != std::string::npos);
    }
  }
  // From C++: refused before anything starts or is recorded.
  fixture f;
  auto before = value_of(f.cl->tests().metrics());
  for (int64_t bad : {int64_t{9223372036854}, INT64_MAX, int64_t{-2},
         run_limits::max_timeout_ms + 1}) {
    INFO(bad);
    run_spec spec;
    spec.script = "exit_with.sh";
    spec.timeout_ms = bad;
    auto r = f.runner().start(spec);
    REQUIRE_FALSE(r);
    CHECK(code_of(r.error()) == errc::invalid_argument);
    CHECK(message_of(r.error()).find("timeout_ms") != std::string::npos);
    CHECK(error_of(f.runner().enqueue(spec)) == errc::invalid_argument);
  }
  CHECK(value_of(f.runner().history(10)).empty());
  CHECK(value_of(f.runner().queue()).empty());
  CHECK(value_of(f.cl->tests().metrics())["revision"] == before["revision"]);
}

TEST_CASE("specs over the limits are refused and change nothing",
  "[test_runner]") {
  fixture f;
  auto before = value_of(f.cl->tests().metrics());
  auto refused = [&](run_spec spec, const std::string& needle) {
    spec.script = "exit_with.sh";
    INFO(needle);
    auto r = f.runner().start(spec);
    REQUIRE_FALSE(r);
    CHECK(code_of(r.error()) == errc::invalid_argument);
    INFO(render(r.error()));
    CHECK(message_of(r.error()).find(needle) != std::string::npos);
  };
  run_spec many;
  many.args.assign(run_limits::max_args + 1, "x");
  refused(many, "too many args");
  run_spec big;
  big.args.assign(2, std::string(run_limits::max_args_bytes / 2 + 1, 'x'));
  refused(big, "args hold");
  run_spec envs;
  for (size_t i = 0; i <= run_limits::max_env; ++i)
    envs.env["V" + std::to_string(i)] = "1";
  refused(envs, "too many env");
  run_spec env_big;
  env_big.env["BIG"] = std::string(run_limits::max_env_bytes, 'x');
  refused(env_big, "env holds");
  run_spec text;
  text.bin = std::string(run_limits::max_text_bytes + 1, 'b');
  refused(text, "bin is longer");
  CHECK(value_of(f.runner().history(10)).empty());
  CHECK(value_of(f.cl->tests().metrics())["revision"] == before["revision"]);
  // At the limits, a run goes.
  run_spec full;
  full.script = "exit_with.sh";
  full.args.assign(run_limits::max_args, "x");
  full.args[0] = "0";
  auto rec = value_of(f.runner().start(full));
  rec = value_of(f.runner().wait(rec.run_id, std::chrono::seconds{60}));
  CHECK(rec.exit_code == 0);
  CHECK(rec.args.size() == run_limits::max_args);
}

TEST_CASE("a start that cannot spawn leaves nothing or a closed record",
  "[test_runner]") {
  fixture f;
  write_script(f.dir / "root/plain.sh", "#!/bin/sh\nexit 0\n", 0644);
  auto before = value_of(f.cl->tests().metrics());
  // Bad input is refused before anything is recorded.
  run_spec bad_env;
  bad_env.script = "exit_with.sh";
  bad_env.env["A=B"] = "1";
  CHECK(start_code(f, bad_env) == errc::invalid_argument);
  run_spec nul_arg;
  nul_arg.script = "exit_with.sh";
  nul_arg.args = {std::string{"a\0b", 3}};
  CHECK(start_code(f, nul_arg) == errc::invalid_argument);
  CHECK(value_of(f.runner().history(10)).empty());
  CHECK(value_of(f.cl->tests().metrics())["revision"] == before["revision"]);
  // A file that cannot be executed fails at the spawn: a closed record.
  run_spec plain;
  plain.script = "plain.sh";
  CHECK(start_code(f, plain) == errc::spawn_failed);
  auto hist = value_of(f.runner().history(10));
  REQUIRE(hist.size() == 1);
  json rec = hist[0];
  INFO(rec.dump());
  CHECK(rec["state"] == "failed");
  CHECK(rec["ended_at"].is_string());
  CHECK(rec["error"].get<std::string>().find("permission denied")
    != std::string::npos);
  // It held test_execution's slot from before the spawn and freed it.
  CHECK(value_of(f.cl->tests().metrics())["revision"] != before["revision"]);
  CHECK(value_of(f.cl->tests().is_running()) == false);
  CHECK(value_of(f.cl->tests().get_state())["run_id"] == rec["run_id"]);
  CHECK(zombie_children().empty());
}

TEST_CASE("the history is bounded in bytes, not only in runs",
  "[test_runner]") {
  test_runner_state st;
  st.cfg_.history_capacity = 1000;
  run_record rec;
  rec.args.assign(run_limits::max_args,
    std::string(run_limits::max_args_bytes / run_limits::max_args, 'x'));
  auto one = run_footprint(rec);
  CHECK(one > run_limits::max_args_bytes);
  for (int i = 0; i < 200; ++i) {
    rec.run_id = std::to_string(i);
    st.remember(rec);
  }
  auto hist = st.history(1000);
  CHECK(hist.size() == run_limits::max_history_bytes / one);
  CHECK(hist.front().run_id == "199");
  size_t bytes = 0;
  for (auto& r : hist)
    bytes += run_footprint(r);
  CHECK(bytes <= run_limits::max_history_bytes);
}

/// Stops a run that ignores SIGTERM: its end is SIGKILL, and nothing of it
/// is left, no zombie either, the moment that end is reported.
void stop_stubborn(fixture& f, const run_record& rec) {
  auto end = value_of(f.runner().stop(rec.run_id));
  CHECK(end.signal == SIGKILL);
  require_nothing_left(end);
}

TEST_CASE("stopped runs whose escapees keep starting leave no zombie",
  "[test_runner]") {
  // The escapees of escapees.sh leave the run's session and group and are
  // adopted by us; a stop meets them at every step of their start, and
  // SIGKILL (grace 50 ms) ends them. Each one must be reaped before the
  // run's end is reported.
  fixture f{50};
  tail t{*f.rt};
  for (int i = 0; i < 100; ++i) {
    INFO("run " << i);
    t.lines.clear();
    auto rec = f.start("escapees.sh");
    // Lines of the run before may still arrive first: they precede "ready".
    REQUIRE(t.wait_for("ready"));
    auto ready = std::find_if(t.lines.begin(), t.lines.end(),
      [](const output_line& l) { return l.text == "ready"; });
    t.lines.erase(t.lines.begin(), ready + 1);
    // Stop at various moments of the escapees' start. A lagging subscriber
    // may lose lines, so any later count will do.
    auto started = [&](int at_least) {
      for (;;) {
        for (auto& line : t.lines)
          if (line.text.rfind("started ", 0) == 0
              && std::stoi(line.text.substr(8)) >= at_least)
            return true;
        if (!t.receive_one())
          return false;
      }
    };
    if (i % 4 != 0)
      REQUIRE(started(i % 4 * 3));
    stop_stubborn(f, rec);
  }
}

TEST_CASE("an escapee slow to die after SIGKILL is reaped before the end",
  "[test_runner]") {
  // While the kernel frees its 200 MB, the escapee has no environ (no
  // cookie), left the run's session and group, and is no zombie yet: no
  // scan finds it, but the run waits for its pidfd and then reaps it.
  fixture f{50};
  tail t{*f.rt};
  for (int i = 0; i < 5; ++i) {
    INFO("run " << i);
    t.lines.clear();
    auto rec = f.start("big_escapee.sh", {"200"});
    while (t.pids_tagged("escapee").empty())
      REQUIRE(t.receive_one());
    auto escapee = t.pids_tagged("escapee")[0];
    stop_stubborn(f, rec);
    CHECK_FALSE(alive(escapee));
  }
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
