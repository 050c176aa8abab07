// The test runner without actors: its config section, the state that admits,
// starts, ends and remembers runs, and the history's bound in bytes.
#include "proc_support.hpp"
#include "support.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <caf/timestamp.hpp>

#include "actors/test_runner.hpp"
#include "src/proc_tree.hpp"
#include "src/script_path.hpp"

using namespace labrt;
using namespace labrt::test;

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
  CHECK(me.start_ticks > 0);
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
  CHECK_FALSE(st.check(spec));
  // The file work, which the runner leaves to its run_admission actor.
  auto path = admit_script(st.cfg_.roots, spec.script, st.cfg_.logs_dir);
  REQUIRE(path);
  CHECK(std::filesystem::is_directory(st.cfg_.logs_dir));
  auto rec = std::optional<run_record>{st.admit(spec, *path)};
  CHECK(rec->state == run_state::queued);
  CHECK(rec->path == *path);
  CHECK(rec->log == dir / "logs" + ("/" + rec->run_id + ".log"));
  CHECK(rec->cookie == "cookie-" + rec->run_id);
  auto rec2 = std::optional<run_record>{st.admit(spec, *path)};
  CHECK(rec2->run_id != rec->run_id);
  CHECK(code_of(admit_script(st.cfg_.roots, "../etc/passwd", "").error())
        == errc::forbidden);
  spec.script.clear();
  CHECK(code_of(st.check(spec)) == errc::invalid_argument);
  st.shutting_down_ = true;
  spec.script = "exit_with.sh";
  CHECK(code_of(st.check(spec)) == errc::shutting_down);
  st.shutting_down_ = false;
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
  // Who the runner was asked by, and what it noted, stay ahead of the end's.
  auto asked = *rec;
  asked.stopped_by = "SIGINT";
  asked.error = "test_execution: refused";
  end.error = "3 leftovers killed";
  end.leftovers = 3;
  test_runner_state::apply_end(asked, end);
  CHECK(asked.stopped_by == "SIGINT");
  CHECK(asked.error == "test_execution: refused; 3 leftovers killed");
  CHECK(asked.leftovers == 3);
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

TEST_CASE("the history answers queries by script, outcome, time and words, "
          "a page at a time", "[test_runner]") {
  test_runner_state st;
  auto at = [](int minute) {
    return caf::timestamp{std::chrono::minutes{minute}};
  };
  auto add = [&](std::string id, std::string script, int minute,
                 auto&& shape) {
    run_record rec;
    rec.run_id = std::move(id);
    rec.script = std::move(script);
    rec.state = run_state::finished;
    rec.exit_code = 0;
    rec.ended_at = at(minute);
    shape(rec);
    st.remember(rec);
  };
  add("r1", "link.sh", 1, [](run_record& r) { r.topology = "t1"; });
  add("r2", "link.sh", 2, [](run_record& r) { r.exit_code = 3; });
  add("r3", "soak.sh", 3, [](run_record& r) {
    r.timed_out = true;
    r.stopped_by = "timeout";
    r.exit_code = -1;
    r.signal = 15;
  });
  add("r4", "link.sh", 4, [](run_record& r) { r.args = {"--port", "7"}; });
  add("r5", "bad.sh", 5, [](run_record& r) { r.state = run_state::failed; });
  add("r6", "link.sh", 6, [](run_record& r) {
    r.exit_code = -1;
    r.signal = 11;
  });
  auto ids = [&](history_query q) {
    std::vector<std::string> out;
    for (auto& rec : st.history(q))
      out.push_back(rec.run_id);
    return out;
  };
  using ids_t = std::vector<std::string>;
  history_query q;
  CHECK(ids(q) == ids_t{"r6", "r5", "r4", "r3", "r2", "r1"});
  q.script = "link.sh";
  CHECK(ids(q) == ids_t{"r6", "r4", "r2", "r1"});
  q.outcome = "passed";
  CHECK(ids(q) == ids_t{"r4", "r1"});
  q = {};
  for (auto [outcome, id] :
       {std::pair{"failed", "r2"}, {"timed_out", "r3"}, {"not_started", "r5"},
        {"crashed", "r6"}}) {
    q.outcome = outcome;
    CHECK(ids(q) == ids_t{id});
  }
  q = {};
  q.since = at(2);
  q.until = at(4); // Ended before it.
  CHECK(ids(q) == ids_t{"r3", "r2"});
  q = {};
  q.text = "link --port";
  CHECK(ids(q) == ids_t{"r4"});
  q.text = "t1";
  CHECK(ids(q) == ids_t{"r1"});
  // Pages: two at a time, each after the last run of the one before.
  q = {};
  q.limit = 2;
  CHECK(ids(q) == ids_t{"r6", "r5"});
  q.before = "r5";
  CHECK(ids(q) == ids_t{"r4", "r3"});
  q.before = "r3";
  q.script = "link.sh";
  CHECK(ids(q) == ids_t{"r2", "r1"});
  q.before = "r1";
  CHECK(ids(q).empty());
}
