// The spare shim: a runner with a runs_dir keeps a labrt-shim started ahead
// of the next run, so a start skips the shim's exec and loading.
#include <signal.h>

#include <algorithm>

#include "runner_support.hpp"
#include "src/run_dir.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

/// The command line of `pid` as ps shows it (NULs as spaces).
std::string cmdline_of(pid_t pid) {
  auto line = slurp("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(line.begin(), line.end(), '\0', ' ');
  return line;
}

/// Our live children that are spare shims still waiting for their run.
std::vector<pid_t> waiting_spares() {
  std::vector<pid_t> found;
  proc_stat st;
  for (auto pid : list_pids())
    if (read_proc_stat(pid, st) && st.ppid == ::getpid() && st.state != 'Z'
      && cmdline_of(pid).find(" --spare ") != std::string::npos)
      found.push_back(pid);
  return found;
}

/// The one spare shim there is, once there is one (or 0).
pid_t one_spare() {
  pid_t spare = 0;
  eventually([&] {
    auto found = waiting_spares();
    spare = found.size() == 1 ? found[0] : 0;
    return spare != 0;
  });
  return spare;
}

struct spare_lab {
  temp_dir dir;
  std::unique_ptr<runtime> rt;

  spare_lab() {
    runtime_config cfg;
    cfg.runner.roots = {scripts_dir};
    cfg.runner.inherit_env = {"PATH"};
    cfg.runner.runs_dir = dir / "runs";
    rt = start_runtime(cfg);
  }

  /// Runs sleep.sh until it is ready: its record; `shim`, its shim's pid.
  run_record start(tail& t, pid_t& shim) {
    client c{*rt};
    run_spec spec;
    spec.script = "sleep.sh";
    auto rec = value_of(c.runner().start(spec));
    REQUIRE(t.wait_for("ready"));
    auto ident
      = read_json_file(run_dir_of(dir / "runs", rec.run_id) + "/shim.json");
    REQUIRE(ident);
    shim = ident->value("pid", 0);
    return rec;
  }
};

} // namespace

TEST_CASE_METHOD(spare_lab,
  "each start takes the spare shim made before it, "
  "and a runtime leaves none",
  "[shim]") {
  {
    tail t{*rt};
    client c{*rt};
    for (int i = 0; i < 2; ++i) {
      auto spare = one_spare(); // Made at start, then after each start.
      REQUIRE(spare != 0);
      pid_t shim = 0;
      auto rec = start(t, shim);
      CHECK(shim == spare);
      // No longer a spare to ps.
      auto words = cmdline_of(shim);
      CHECK(words.find("labrt-shim --run ") != std::string::npos);
      CHECK(words.find("--spare") == std::string::npos);
      require_nothing_left(value_of(c.runner().stop(rec.run_id)));
    }
    REQUIRE(one_spare() != 0);
  }
  // Its end waits for every actor, the spare's disposer too.
  rt.reset();
  CHECK(waiting_spares().empty());
  CHECK(zombie_children().empty());
}

TEST_CASE_METHOD(spare_lab,
  "a spare shim killed while it waits is replaced "
  "by a new one at the next start",
  "[shim]") {
  tail t{*rt};
  client c{*rt};
  auto spare = one_spare();
  REQUIRE(spare != 0);
  REQUIRE(signal_pids({spare}, SIGKILL) == 1);
  // Dead, and ours to reap: the start finds it so.
  REQUIRE(eventually([&] { return !alive(spare); }));
  pid_t shim = 0;
  auto rec = start(t, shim);
  CHECK(shim != spare);
  CHECK_FALSE(alive(spare));
  require_nothing_left(value_of(c.runner().stop(rec.run_id)));
}
