// labrt-bench-flood: the daemon's API while a test script floods its output.
//
//   labrt-bench-flood [--requests N] [--labctl PATH]
//
// Starts `labctl serve` (runner roots = a temporary directory holding
// flood.sh: `exec yes <a long line>`), then times N sequential GETs of
// /api/test/status and of /api/kv/{key} on one keep-alive connection:
// first idle (the baseline), then while flood.sh runs, and finally the
// POST /api/test/stop that ends the flood. Prints p50/p99/max and the
// ratio of each to the baseline, as Markdown.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "http_procs.hpp"

namespace labrt::bench::http {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct figures {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
  size_t failed = 0;
};

/// `n` sequential GETs of `path`, in milliseconds each.
figures time_gets(httplib::Client& cli, const std::string& path, int n) {
  std::vector<double> ms;
  figures f;
  for (int i = 0; i < n; ++i) {
    auto t0 = clock_type::now();
    auto res = cli.Get(path.c_str());
    ms.push_back(ms_since(t0));
    if (!res || res->status != 200)
      ++f.failed;
  }
  f.p50 = quantile(ms, 0.5);
  f.p99 = quantile(ms, 0.99);
  f.max = quantile(ms, 1.0);
  return f;
}

void row(const char* what, const figures& f, const figures& base) {
  std::printf("| %s | %.2f | %.2f | %.2f | %.1fx | %.1fx |%s\n", what, f.p50,
              f.p99, f.max, f.p50 / std::max(base.p50, 1e-3),
              f.p99 / std::max(base.p99, 1e-3),
              f.failed > 0 ? (" " + std::to_string(f.failed) + " failed").c_str()
                           : "");
}

/// The daemon's port from its "serving on http://HOST:PORT" line, or 0.
int port_of(const std::string& log) {
  auto at = log.find("serving on ");
  if (at == std::string::npos)
    return 0;
  auto colon = log.find(':', log.find("//", at) + 2);
  return std::atoi(log.c_str() + colon + 1);
}

} // namespace
} // namespace labrt::bench::http

using namespace labrt::bench;
using namespace labrt::bench::http;

int main(int argc, char** argv) {
  int n = 300;
  std::string labctl = LABCTL_PATH;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--requests" && i + 1 < argc)
      n = std::max(20, std::stoi(argv[++i]));
    else if (arg == "--labctl" && i + 1 < argc)
      labctl = argv[++i];
    else
      die("unknown option " + arg + " (known: --requests N, --labctl PATH)");
  }
  ::signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/labrt-bench-flood-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    die("mkdtemp failed");
  fs::path dir = tmpl;
  {
    std::ofstream script{dir / "flood.sh"};
    script << "#!/bin/sh\nexec yes \"a fairly long line of output to flood "
              "the pipe with text\"\n";
    std::ofstream cfg{dir / "lab.json"};
    cfg << R"({"runner": {"roots": [")" << dir.string()
        << R"("]}, "http": {"listen": "127.0.0.1:0"}})";
  }
  fs::permissions(dir / "flood.sh", fs::perms::owner_all);

  proc d{{labctl, "serve", "--config", (dir / "lab.json").string()}};
  if (!d.read_until(clock_type::now() + 15s,
                    [&] { return port_of(d.err) > 0; }))
    die("the daemon did not start: " + d.err);
  auto port = port_of(d.err);
  // The daemon's log must not fill its pipe while we measure.
  std::atomic<bool> done{false};
  std::thread drain{[&] {
    d.read_until(clock_type::now() + 1h, [&] { return done.load(); });
  }};

  httplib::Client cli{"127.0.0.1", port};
  cli.set_keep_alive(true);
  cli.set_tcp_nodelay(true);
  cli.set_read_timeout(30, 0);
  if (!cli.Put("/api/kv/bench-flood", "42", "application/json"))
    die("PUT failed");
  auto idle_status = time_gets(cli, "/api/test/status", n);
  auto idle_kv = time_gets(cli, "/api/kv/bench-flood", n);

  auto started = cli.Post("/api/test/start", R"({"script":"flood.sh"})",
                          "application/json");
  if (!started || started->status != 201)
    die("cannot start flood.sh: "
        + (started ? started->body : std::string{"no answer"}));
  auto flood_status = time_gets(cli, "/api/test/status", n);
  auto flood_kv = time_gets(cli, "/api/kv/bench-flood", n);

  auto t0 = clock_type::now();
  auto stopped = cli.Post("/api/test/stop", "", "application/json");
  auto stop_ms = ms_since(t0);
  auto metrics = cli.Get("/api/metrics");

  std::printf("## API under an output flood, %d sequential GETs per row\n\n",
              n);
  std::printf("| request | p50 ms | p99 ms | max ms | p50 vs idle | p99 vs "
              "idle |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
  row("GET /api/test/status, idle", idle_status, idle_status);
  row("GET /api/test/status, flood", flood_status, idle_status);
  row("GET /api/kv/{key}, idle", idle_kv, idle_kv);
  row("GET /api/kv/{key}, flood", flood_kv, idle_kv);
  std::printf("\nPOST /api/test/stop during the flood: %.1f ms (%s)\n",
              stop_ms,
              stopped && stopped->status == 200 ? "200" : "failed");
  if (metrics && metrics->status == 200) {
    // How much of the flood went through: lines, batches, dropped lines.
    std::istringstream lines{metrics->body};
    for (std::string line; std::getline(lines, line);)
      if (line[0] != '#' && (line.find("lines") != std::string::npos
                             || line.find("batches") != std::string::npos))
        std::printf("%s\n", line.c_str());
  }

  done.store(true);
  ::kill(d.c.pid, SIGTERM);
  drain.join();
  d.reap(clock_type::now() + 15s);
  fs::remove_all(dir);
  return 0;
}
