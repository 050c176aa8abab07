// labrt-bench-runner: start and stop latency of the test runner, beside a
// bare posix_spawn + waitpid of /bin/true (the floor), all in one run.
//
//   labrt-bench-runner [--runs N]   (default 200)
//
// start: request -> reply, which comes once the child has exec'd and the run
//        is recorded in test_execution (script: /bin/true).
// stop:  request -> reply, which comes once the whole tree (a shell and nine
//        `sleep`s, all honouring SIGTERM) is gone and reaped.
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/scoped_actor.hpp>

#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/runtime.hpp"
#include "src/proc_tree.hpp"
#include "stats.hpp"

extern char** environ;

namespace {

using labrt::render;
using labrt::bench::clock_type;
using labrt::bench::summarize;
using labrt::bench::us_since;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "labrt-bench-runner: %s\n", what.c_str());
  std::exit(1);
}

std::vector<double> bench_floor(int runs) {
  std::vector<double> result;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  for (int i = 0; i < runs; ++i) {
    auto t0 = clock_type::now();
    pid_t pid;
    if (::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0)
      die("posix_spawn failed");
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.push_back(us_since(t0));
  }
  return result;
}

/// Start latency of /bin/true through `rt`'s runner.
std::vector<double> bench_start(labrt::client& c, int runs) {
  std::vector<double> start_us;
  labrt::run_spec trivial;
  trivial.script = "/bin/true";
  for (int i = 0; i < runs; ++i) {
    auto t0 = clock_type::now();
    auto rec = c.runner().start(trivial);
    auto us = us_since(t0);
    if (!rec)
      die("start: " + render(rec.error()));
    start_us.push_back(us);
    auto end = c.runner().wait(rec->run_id, std::chrono::seconds{30});
    if (!end || end->exit_code != 0)
      die("run of /bin/true failed: "
          + (end ? end->error : render(end.error())));
  }
  return start_us;
}

/// A runtime whose runs start through labrt-shim under `runs_dir`.
std::unique_ptr<labrt::runtime> shim_runtime(const std::string& runs_dir) {
  labrt::runtime_config cfg;
  cfg.max_threads = 2;
  cfg.runner.inherit_env = {"PATH"};
  cfg.runner.runs_dir = runs_dir;
  cfg.runner.stop_on_shutdown = false;
  auto rt = labrt::runtime::make(cfg);
  if (!rt)
    die(render(rt.error()));
  return std::move(*rt);
}

/// From runtime::make to the runner answering with the re-adopted run that
/// a runtime left running in its shim, `runs` times.
std::vector<double> bench_adopt(const std::string& dir, int runs) {
  std::vector<double> result;
  auto runs_dir = dir + "/runs";
  labrt::run_spec sleeper;
  sleeper.script = "/bin/sleep";
  sleeper.args = {"1000"};
  std::string id;
  {
    auto rt = shim_runtime(runs_dir);
    labrt::client c{*rt, std::chrono::seconds{30}};
    auto rec = c.runner().start(sleeper);
    if (!rec)
      die("start: " + render(rec.error()));
    id = rec->run_id;
    rt->shutdown(); // stop_on_shutdown off: the run stays in its shim
  }
  for (int i = 0; i < runs; ++i) {
    auto t0 = clock_type::now();
    auto rt = shim_runtime(runs_dir);
    labrt::client c{*rt, std::chrono::seconds{30}};
    auto cur = c.runner().status();
    result.push_back(us_since(t0));
    if (!cur || cur->run_id != id)
      die("not re-adopted");
    if (i + 1 == runs && !c.runner().stop(id))
      die("stop of the re-adopted run failed");
    rt->shutdown();
  }
  return result;
}

} // namespace

int main(int argc, char** argv) {
  int runs = 200;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--runs") == 0)
      runs = std::max(1, std::atoi(argv[i + 1]));
  char tmpl[] = "/tmp/labrt-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    die("mkdtemp failed");
  std::string dir = tmpl;
  auto tree = dir + "/tree10.sh";
  std::ofstream{tree} << "#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8 9; do\n"
                         "  sleep 1000 &\ndone\necho ready\nwait\n";
  ::chmod(tree.c_str(), 0755);

  labrt::runtime_config cfg;
  cfg.max_threads = 2;
  cfg.runner.inherit_env = {"PATH"};
  cfg.runner.grace_ms = 5000;
  auto rt = labrt::runtime::make(cfg);
  if (!rt)
    die(render(rt.error()));
  labrt::client c{**rt, std::chrono::seconds{30}};

  // Floor first, then the runner, then the floor again: the machine is shared.
  auto floor = bench_floor(runs);

  auto start_us = bench_start(c, runs);
  std::vector<double> shim_us;
  {
    auto shim_rt = shim_runtime(dir + "/shim-runs");
    labrt::client sc{*shim_rt, std::chrono::seconds{30}};
    shim_us = bench_start(sc, runs);
    shim_rt->shutdown();
  }
  auto adopt_us = bench_adopt(dir, std::max(1, runs / 10));

  // Stop: wait for "ready" through an output subscription, then stop.
  caf::scoped_actor self{(*rt)->system()};
  self
    ->request((*rt)->runner(), std::chrono::seconds{10},
      labrt::atom::subscribe_v, caf::actor_cast<labrt::run_output_actor>(self))
    .receive([](std::string&) {},
      [](caf::error& err) { die("subscribe: " + render(err)); });
  std::vector<double> stop_us;
  labrt::run_spec tree_spec;
  tree_spec.script = tree;
  size_t tree_size = 0;
  for (int i = 0; i < runs; ++i) {
    auto rec = c.runner().start(tree_spec);
    if (!rec)
      die("start: " + render(rec.error()));
    for (bool ready = false; !ready;)
      self->receive(
        [&](labrt::output_batch& batch) {
          for (auto& line : batch.lines)
            if (line.text == "ready" && batch.run_id == rec->run_id)
              ready = true;
        },
        caf::after(std::chrono::seconds{10}) >> [] { die("no 'ready'"); });
    if (i == 0)
      tree_size = labrt::run_members(rec->pid, rec->cookie).size();
    auto t0 = clock_type::now();
    auto end = c.runner().stop(rec->run_id);
    auto us = us_since(t0);
    if (!end)
      die("stop: " + render(end.error()));
    if (!labrt::run_members(0, end->cookie).empty())
      die("something of the run survived");
    stop_us.push_back(us);
  }
  auto floor2 = bench_floor(runs);
  floor.insert(floor.end(), floor2.begin(), floor2.end());

  auto f = summarize(floor);
  auto s = summarize(start_us);
  auto k = summarize(stop_us);
  auto sh = summarize(shim_us);
  auto ad = summarize(adopt_us);
  std::printf("## labrt test runner: %d runs each\n\n", runs);
  std::printf("| path | p50 | p99 | target |\n| --- | ---: | ---: | --- |\n");
  std::printf("| floor: posix_spawn + waitpid of /bin/true | %.0f us | %.0f us "
              "| - |\n",
    f.p50, f.p99);
  std::printf("| start: request -> child exec'd and recorded | %.0f us | %.0f "
              "us | p50 <= 3x floor: %s (%.1fx) |\n",
    s.p50, s.p99, s.p50 <= 3 * f.p50 ? "met" : "MISSED", s.p50 / f.p50);
  std::printf("| start through labrt-shim (a state_dir) | %.0f us | %.0f us "
              "| p50 within 2x direct start: %s (%.1fx) |\n",
    sh.p50, sh.p99, sh.p50 <= 2 * s.p50 ? "met" : "MISSED", sh.p50 / s.p50);
  std::printf("| runtime start -> live run re-adopted (%zu times) | %.0f us | "
              "%.0f us | p50 < 100 ms: %s |\n",
    adopt_us.size(), ad.p50, ad.p99, ad.p50 < 100000 ? "met" : "MISSED");
  std::printf(
    "| stop: request -> tree of %zu processes reaped | %.0f us | %.0f "
    "us | p50 < 20 ms: %s |\n",
    tree_size, k.p50, k.p99, k.p50 < 20000 ? "met" : "MISSED");
  std::printf(
    "\n%ld cores, scheduler.max-threads 2\n", ::sysconf(_SC_NPROCESSORS_ONLN));
  (*rt)->shutdown();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
