// labrt-bench-monitor: the service monitor against the old way (one pgrep
// per service, what the Flask app did), with 1000 extra processes running.
//
//   cmake --preset release
//   cmake --build --preset release --target labrt-bench-monitor -j2
//   build/release/bench/labrt-bench-monitor [--procs N] [--rules N]
//
// Prints markdown tables: the cost of one scan vs. pgrep-per-service, CPU per
// tick of a running monitor, and death-to-update latency (kill -> change
// event at a subscriber of service_status).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/scoped_actor.hpp>

#include "labrt/errc.hpp"
#include "labrt/runtime.hpp"
#include "src/proc_stat.hpp"
#include "src/scan_pool.hpp"
#include "src/service_rules.hpp"
#include "stats.hpp"

extern char** environ;

namespace {

using namespace labrt;
namespace fs = std::filesystem;
using bench::clock_type;
using bench::ms_since;
using bench::quantile;

double cpu_ms(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3
    + static_cast<double>(ts.tv_nsec) / 1e6;
}

double children_cpu_ms() {
  rusage ru{};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1e3
      + static_cast<double>(tv.tv_usec) / 1e3;
  };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

/// posix_spawn with stdout and stderr to /dev/null; -1 on failure.
pid_t start(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  auto rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

/// Processes started for the run: killed and reaped however the run ends.
struct crowd {
  ~crowd() {
    for (auto pid : pids)
      ::kill(pid, SIGKILL);
    for (auto pid : pids)
      wait_exit(pid);
  }
  std::vector<pid_t> pids;
};

struct temp_dir {
  temp_dir() {
    std::string tmpl
      = (fs::temp_directory_path() / "labrt-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(1);
    }
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

std::string svc_name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "svc_%03d", i);
  return buf;
}

struct scan_cost {
  double wall_p50 = 0;
  double wall_p99 = 0;
  double cpu_p50 = 0;       ///< All threads of the process.
  double one_wall_p50 = 0;  ///< The same pass on one thread.
  double cold_wall_p50 = 0; ///< Without the fd cache (labctl ps).
};

/// Wall p50 / p99 and process CPU p50 of `runs` periodic passes.
std::array<double, 3> time_passes(
  scan_pool& pool, const rule_set& rules, int runs, size_t& matched) {
  pool.scan(rules); // opens the files
  std::vector<double> wall;
  std::vector<double> cpu;
  for (int i = 0; i < runs; ++i) {
    auto c0 = cpu_ms(CLOCK_PROCESS_CPUTIME_ID);
    auto t0 = clock_type::now();
    auto res = pool.scan(rules);
    wall.push_back(ms_since(t0));
    cpu.push_back(cpu_ms(CLOCK_PROCESS_CPUTIME_ID) - c0);
    matched = 0;
    for (auto& s : res.services)
      matched += s.procs.size();
  }
  return {quantile(wall, 0.5), quantile(wall, 0.99), quantile(cpu, 0.5)};
}

scan_cost measure_scans(const rule_set& rules, int runs) {
  std::vector<double> cold;
  scan_pool fresh{scan_pool::default_threads(), 0}; // as `labctl ps` scans
  for (int i = 0; i < runs / 5; ++i) {
    auto t0 = clock_type::now();
    fresh.scan(rules);
    cold.push_back(ms_since(t0));
  }
  size_t matched = 0;
  scan_pool one{1};
  auto single = time_passes(one, rules, runs, matched);
  scan_pool pool;
  auto multi = time_passes(pool, rules, runs, matched);
  if (matched == 0)
    std::cerr << "warning: no rule matched anything\n";
  return {multi[0], multi[1], multi[2], single[0], quantile(cold, 0.5)};
}

struct pgrep_cost {
  double wall = 0; ///< ms for all services
  double cpu = 0;  ///< ms CPU of the pgrep processes
};

/// The old way: one pgrep per service, each a fork/exec and a /proc walk.
pgrep_cost measure_pgrep(
  const std::vector<std::vector<std::string>>& cmds, int rounds) {
  std::vector<double> wall;
  std::vector<double> cpu;
  for (int r = 0; r < rounds; ++r) {
    auto c0 = children_cpu_ms();
    auto t0 = clock_type::now();
    for (auto& argv : cmds) {
      auto pid = start(argv);
      if (pid > 0)
        wait_exit(pid);
    }
    wall.push_back(ms_since(t0));
    cpu.push_back(children_cpu_ms() - c0);
  }
  return {quantile(wall, 0.5), quantile(cpu, 0.5)};
}

template <class T, class Handle, class... Ts>
T ask(caf::scoped_actor& self, const Handle& h, Ts&&... xs) {
  T result{};
  self->request(h, std::chrono::seconds{30}, std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
      [&](caf::error& err) {
        std::cerr << "request failed: " << render(err) << "\n";
        std::exit(1);
      });
  return result;
}

/// Waits for the record of `service` to reach `running`; false on timeout.
bool wait_running(
  caf::scoped_actor& self, const std::string& service, bool running) {
  auto key = "record/" + service;
  auto until = clock_type::now() + std::chrono::seconds{10};
  while (clock_type::now() < until) {
    bool hit = false;
    bool timed_out = false;
    self->receive(
      [&](change_event& ev) {
        hit = ev.key == key && ev.new_value.is_object()
          && ev.new_value.value("running", !running) == running;
      },
      caf::after(std::chrono::seconds{10}) >> [&] { timed_out = true; });
    if (hit)
      return true;
    if (timed_out)
      return false;
  }
  return false;
}

} // namespace

int main(int argc, char** argv) {
  int n_procs = 1000;
  int n_rules = 100;
  int latency_runs = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    if (opt == "--procs")
      n_procs = std::atoi(argv[i + 1]);
    else if (opt == "--rules")
      n_rules = std::atoi(argv[i + 1]);
    else if (opt == "--latency-runs")
      latency_runs = std::atoi(argv[i + 1]);
  }
  temp_dir dir;
  // Ten services really run (copies of sleep under their names); the rest
  // of the crowd is plain sleep.
  std::vector<std::string> svc_paths;
  for (int i = 0; i < 10; ++i) {
    auto p = dir.path / svc_name(i);
    fs::copy_file("/bin/sleep", p);
    fs::permissions(p, fs::perms::owner_all);
    svc_paths.push_back(p.string());
  }
  auto victim = (dir.path / "bench_victim").string();
  fs::copy_file("/bin/sleep", victim);
  fs::permissions(victim, fs::perms::owner_all);
  crowd extra;
  auto t_spawn = clock_type::now();
  for (int i = 0; i < n_procs; ++i) {
    auto pid = i < 10 ? start({svc_paths[static_cast<size_t>(i)], "3600"})
                      : start({"/bin/sleep", "3600"});
    if (pid < 0) {
      std::cerr << "spawn failed after " << i << " processes\n";
      return 1;
    }
    extra.pids.push_back(pid);
  }
  auto total_pids = list_pids().size();
  std::cout << "# labrt service monitor benchmark\n\n"
            << n_procs << " extra processes started in "
            << static_cast<int>(ms_since(t_spawn)) << " ms; " << total_pids
            << " pids in /proc; " << n_rules << " rules; "
            << std::thread::hardware_concurrency() << " cores\n\n";

  // -- one scan vs. pgrep per service -----------------------------------------
  rule_set comm_rules;
  rule_set cmdline_rules;
  rule_set mixed_rules;
  std::vector<std::vector<std::string>> pgrep_x;
  std::vector<std::vector<std::string>> pgrep_f;
  for (int i = 0; i < n_rules; ++i) {
    auto name = svc_name(i);
    auto regex = name + "( |$)";
    (void)comm_rules.add({name, match_kind::comm, name});
    (void)cmdline_rules.add({name, match_kind::cmdline, regex});
    pgrep_x.push_back({"pgrep", "-x", name});
    pgrep_f.push_back({"pgrep", "-f", regex});
    if (i % 4 == 0 || i % 4 == 1)
      (void)mixed_rules.add({name, match_kind::comm, name});
    else if (i % 4 == 2)
      (void)mixed_rules.add(
        {name, match_kind::exe, (dir.path / name).string()});
    else
      (void)mixed_rules.add({name, match_kind::cmdline, regex});
  }
  constexpr int scan_runs = 50;
  constexpr int pgrep_rounds = 3;
  auto s_comm = measure_scans(comm_rules, scan_runs);
  auto s_cmd = measure_scans(cmdline_rules, scan_runs);
  auto s_mixed = measure_scans(mixed_rules, scan_runs);
  auto p_x = measure_pgrep(pgrep_x, pgrep_rounds);
  auto p_f = measure_pgrep(pgrep_f, pgrep_rounds);
  std::printf(
    "## One pass for %d services vs. one pgrep per service\n\n", n_rules);
  std::printf("| rules | labrt scan wall p50 / p99 (ms) | labrt CPU p50 (ms) "
              "| 1 thread wall p50 (ms) | cold scan wall p50 (ms) | pgrep x%d "
              "wall (ms) | pgrep CPU (ms) | wall ratio | CPU ratio |\n",
    n_rules);
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  auto row = [](const char* what, const scan_cost& s, const pgrep_cost* p) {
    std::printf("| %s | %.2f / %.2f | %.2f | %.2f | %.2f ", what, s.wall_p50,
      s.wall_p99, s.cpu_p50, s.one_wall_p50, s.cold_wall_p50);
    if (p != nullptr)
      std::printf("| %.0f | %.0f | %.0fx | %.0fx |\n", p->wall, p->cpu,
        p->wall / s.wall_p50, p->cpu / s.cpu_p50);
    else
      std::printf("| - | - | - | - |\n");
  };
  row("comm (vs. pgrep -x)", s_comm, &p_x);
  row("cmdline regex (vs. pgrep -f)", s_cmd, &p_f);
  row("mixed: 50 comm, 25 exe, 25 cmdline", s_mixed, nullptr);
  std::printf("\nlabrt: the monitor's periodic pass (its /proc files kept "
              "open); cold = a fresh pass as in `labctl ps`. pgrep CPU counts "
              "the pgrep processes only (not fork/exec in the caller); labrt "
              "CPU is the whole process's, over its %zu scanning threads.\n\n",
    scan_pool::default_threads());

  // -- a running monitor: CPU per tick, death-to-update latency ---------------
  runtime_config cfg;
  cfg.runner.enabled = false;
  cfg.max_threads = 2;
  for (auto& r : mixed_rules.rules())
    cfg.monitor.services.push_back(r.rule);
  cfg.monitor.interval_ms = 100;
  auto rt = runtime::make(cfg);
  if (!rt) {
    std::cerr << "runtime: " << render(rt.error()) << "\n";
    return 1;
  }
  caf::scoped_actor self{(*rt)->system()};
  auto metrics0 = ask<json>(self, (*rt)->monitor(), atom::metrics_v);
  auto cpu0 = cpu_ms(CLOCK_PROCESS_CPUTIME_ID);
  auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::seconds{3});
  auto cpu1 = cpu_ms(CLOCK_PROCESS_CPUTIME_ID);
  auto wall = ms_since(t0);
  auto metrics1 = ask<json>(self, (*rt)->monitor(), atom::metrics_v);
  auto ticks
    = metrics1["scans"].get<double>() - metrics0["scans"].get<double>();
  auto per_tick = (cpu1 - cpu0) / std::max(1.0, ticks);
  std::printf("## Running monitor, %zu rules, interval 100 ms\n\n",
    cfg.monitor.services.size());
  std::printf("| ticks | CPU per tick (ms, whole process) | last scan (ms) "
              "| CPU at interval 1000 ms |\n");
  std::printf("| --- | --- | --- | --- |\n");
  std::printf("| %.0f in %.1f s | %.2f | %.2f | %.2f%% of one core |\n\n",
    ticks, wall / 1e3, per_tick, metrics1["last_scan_us"].get<double>() / 1e3,
    per_tick / 10.0);

  // Death to update: kill -> change event at a subscriber of service_status.
  self
    ->request((*rt)->services(), std::chrono::seconds{10}, atom::subscribe_v,
      caf::actor_cast<subscriber_actor>(self), uint64_t{0})
    .receive([](subscription&) {}, [](caf::error&) {});
  ask<bool>(self, (*rt)->monitor(), atom::add_v,
    service_rule{"victim", match_kind::comm, "bench_victim"});
  std::vector<double> latencies;
  int missed = 0;
  for (int i = 0; i < latency_runs; ++i) {
    auto pid = start({victim, "3600"});
    if (pid < 0)
      break;
    // Seen by a scan (on demand here, instead of waiting up to a tick).
    ask<std::vector<service_record>>(self, (*rt)->monitor(), atom::scan_v);
    if (!wait_running(self, "victim", true)) {
      ++missed;
      ::kill(pid, SIGKILL);
      wait_exit(pid);
      continue;
    }
    auto tk = clock_type::now();
    ::kill(pid, SIGKILL);
    if (wait_running(self, "victim", false))
      latencies.push_back(ms_since(tk));
    else
      ++missed;
    wait_exit(pid);
  }
  std::printf("## Death to update (kill -> change event at a subscriber), "
              "%zu runs, %d extra processes\n\n",
    latencies.size(), n_procs);
  std::printf("| p50 (ms) | p99 (ms) | max (ms) | missed |\n");
  std::printf("| --- | --- | --- | --- |\n");
  std::printf("| %.3f | %.3f | %.3f | %d |\n", quantile(latencies, 0.5),
    quantile(latencies, 0.99), quantile(latencies, 1.0), missed);
  (*rt)->shutdown();
  return 0;
}
