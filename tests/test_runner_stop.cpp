// The test runner's stops: SIGTERM then SIGKILL for the whole tree, escapees
// by setsid or double fork, timeouts, shutdown, floods of output, and no
// zombie left at the moment a run's end is reported.
#include "proc_support.hpp"
#include "runner_support.hpp"
#include "support.hpp"

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "src/process.hpp"

namespace fs = std::filesystem;
using namespace labrt;
using namespace labrt::test;

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

namespace {

/// Stops a run that ignores SIGTERM: its end is SIGKILL, and nothing of it
/// is left, no zombie either, the moment that end is reported.
void stop_stubborn(fixture& f, const run_record& rec) {
  auto end = value_of(f.runner().stop(rec.run_id));
  CHECK(end.signal == SIGKILL);
  require_nothing_left(end);
}

} // namespace

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
    auto rec = f.start("escapees.sh");
    // Its lines by run id: a lagging subscriber may lose any line, the
    // first too, when the batches of the run before fill its credit.
    t.only_run = rec.run_id;
    t.lines.clear();
    // Every line comes after its trap of SIGTERM. Stop at various moments
    // of the escapees' start ("ready" is 0 started); any later count will
    // do.
    auto started = [&](int at_least) {
      for (;;) {
        for (auto& line : t.lines)
          if (line.text == "ready" ? at_least == 0
                                   : std::stoi(line.text.substr(8)) >= at_least)
            return true;
        if (!t.receive_one())
          return false;
      }
    };
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
