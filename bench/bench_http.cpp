// labrt-bench-http: the HTTP API against its floor, all in one run.
//
//   labrt-bench-http [--seconds S] [--connections C] [--puts N] [--repeat R]
//                    [--labctl PATH] [--config FILE] [--no-flask]
//
// throughput: `wrk -t2 -cC -dSs --latency` on GET /api/test/status of
//   (a) a runtime + labrt::http_server, (b) the floor: a bare httplib::Server
//   with the same settings serving the same body as a constant, and (c) when
//   python3-flask is installed, the old design (bench/flask_baseline.py).
// events: kv PUT -> its SSE line at a reader, N PUTs one after another.
// idle RSS: `labctl serve --config FILE` after ~1 s of idling.
//
// The child processes and the wrk runs are in http_procs.hpp/.cpp.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "labrt/errc.hpp"
#include "labrt/http.hpp"
#include "labrt/sse.hpp"
#include "labrt/runtime.hpp"

#include "http_procs.hpp"

namespace labrt::bench::http {
namespace {

using namespace std::chrono_literals;
using labrt::json;

// -- servers -----------------------------------------------------------------

/// httplib's Server with labrt's backlog (see src/http/server.cpp).
class floor_server : public httplib::Server {
public:
  bool widen_backlog() {
    return ::listen(svr_sock_, SOMAXCONN) == 0;
  }
};

/// The floor: the same settings as labrt::http_server, a constant body.
struct floor_proc {
  floor_proc(const labrt::http_config& cfg, std::string body) {
    svr.set_tcp_nodelay(true);
    svr.set_keep_alive_max_count(1000);
    auto threads = cfg.threads + cfg.max_streams;
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    svr.Get("/api/test/status",
            [body](const httplib::Request&, httplib::Response& res) {
              res.set_content(body, "application/json");
            });
    port = svr.bind_to_any_port("127.0.0.1");
    if (port <= 0 || !svr.widen_backlog())
      die("the floor server cannot listen");
    thread = std::thread{[this] { svr.listen_after_bind(); }};
  }
  ~floor_proc() {
    svr.stop();
    thread.join();
  }
  floor_server svr;
  int port = 0;
  std::thread thread;
};

// -- figures -----------------------------------------------------------------

/// kv PUT -> the event's SSE line at a connected reader, in microseconds.
std::vector<double> event_latency(const options& opt, uint16_t port) {
  auto n = static_cast<size_t>(opt.puts);
  std::vector<clock_type::time_point> sent(n);
  std::vector<clock_type::time_point> seen(n);
  std::atomic<size_t> received{0};
  std::atomic<bool> warm{false};
  std::thread reader{[&] {
    httplib::Client cli{"127.0.0.1", port};
    cli.set_read_timeout(60, 0);
    labrt::sse::parser parser;
    cli.Get("/api/events", [&](const char* data, size_t size) {
      auto now = clock_type::now();
      for (auto& ev : parser.feed({data, size})) {
        auto& text = ev.data;
        auto at = text.find("\"key\":\"lat-");
        if (at == std::string::npos)
          continue;
        auto key = text.substr(at + 11, text.find('"', at + 11) - at - 11);
        if (key == "warm") {
          warm.store(true);
        } else {
          auto i = std::stoul(key);
          if (i < n) {
            seen[i] = now;
            received.fetch_add(1, std::memory_order_release);
          }
        }
      }
      return received.load() < n;
    });
  }};
  httplib::Client cli{"127.0.0.1", port};
  cli.set_tcp_nodelay(true);
  cli.set_keep_alive(true);
  // Until the reader is connected and sees events.
  auto until = clock_type::now() + 10s;
  while (!warm.load() && clock_type::now() < until) {
    cli.Put("/api/kv/lat-warm", "0", "application/json");
    auto tick = clock_type::now() + 20ms;
    while (!warm.load() && clock_type::now() < tick)
      std::this_thread::yield();
  }
  if (!warm.load())
    die("the event reader saw nothing");
  for (size_t i = 0; i < n; ++i) {
    sent[i] = clock_type::now();
    auto res = cli.Put(("/api/kv/lat-" + std::to_string(i)).c_str(),
                       std::to_string(i), "application/json");
    if (!res || res->status != 200)
      die("PUT failed");
  }
  until = clock_type::now() + 10s;
  while (received.load(std::memory_order_acquire) < n
         && clock_type::now() < until)
    std::this_thread::yield();
  auto got = received.load(std::memory_order_acquire);
  if (got < n) {
    std::fprintf(stderr, "labrt-bench-http: %zu of %zu events arrived\n", got,
                 n);
    std::exit(1);
  }
  reader.join();
  std::vector<double> us;
  for (size_t i = 0; i < n; ++i)
    us.push_back(
      std::chrono::duration<double, std::micro>(seen[i] - sent[i]).count());
  return us;
}

/// The daemon's VmRSS in kB after ~1 s idle, or nullopt.
std::optional<long> idle_rss_kb(const options& opt) {
  proc d{{opt.labctl, "serve", "--config", opt.config, "--listen",
          "127.0.0.1:0"}};
  auto until = clock_type::now() + 15s;
  if (!d.read_until(until, [&] {
        return d.err.find("serving on") != std::string::npos;
      })) {
    std::fprintf(stderr, "labrt-bench-http: the daemon did not start: %s\n",
                 d.err.c_str());
    return std::nullopt;
  }
  // Idle for a second, still draining its log.
  d.read_until(clock_type::now() + 1s, [] { return false; });
  std::ifstream status{"/proc/" + std::to_string(d.c.pid) + "/status"};
  std::optional<long> kb;
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      kb = std::atol(line.c_str() + 6);
  ::kill(d.c.pid, SIGTERM);
  d.reap(clock_type::now() + 10s);
  return kb;
}

/// The Flask baseline's port, or 0 if Flask is missing.
int start_flask(proc& py) {
  if (!py.read_until(clock_type::now() + 15s,
                     [&] { return py.out.find('\n') != std::string::npos; }))
    return 0;
  return std::atoi(py.out.c_str());
}

void row(const char* name, const wrk_result& r, double floor_rps) {
  std::printf("| %s | %.0f | %.2f | %.2f | %.2f | %.0f%% |%s\n", name, r.rps,
              r.p50_ms, r.p90_ms, r.p99_ms, 100.0 * r.rps / floor_rps,
              r.errors.empty() ? "" : (" " + r.errors).c_str());
}

} // namespace
} // namespace labrt::bench::http

using namespace labrt::bench;
using namespace labrt::bench::http;

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&] {
      if (i + 1 >= argc)
        die(arg + " needs a value");
      return std::string{argv[++i]};
    };
    if (arg == "--seconds")
      opt.seconds = std::max(1, std::stoi(next()));
    else if (arg == "--connections")
      opt.connections = std::max(2, std::stoi(next()));
    else if (arg == "--puts")
      opt.puts = std::max(10, std::stoi(next()));
    else if (arg == "--repeat")
      opt.repeat = std::max(1, std::stoi(next()));
    else if (arg == "--labctl")
      opt.labctl = next();
    else if (arg == "--config")
      opt.config = next();
    else if (arg == "--no-flask")
      opt.use_flask = false;
    else
      die("unknown option " + arg
          + " (known: --seconds, --connections, --puts, --repeat, --labctl, "
            "--config, --no-flask)");
  }
  // wrk's and our own writes to a closed connection must not kill us.
  ::signal(SIGPIPE, SIG_IGN);

  labrt::runtime_config rcfg;
  rcfg.event_hub = true; // The API serves /api/events.
  auto rt = labrt::runtime::make(rcfg);
  if (!rt)
    die(labrt::render(rt.error()));
  labrt::http_config hcfg;
  hcfg.listen = "127.0.0.1:0";
  auto server = labrt::http_server::make(**rt, hcfg, "bench");
  if (!server)
    die(labrt::render(server.error()));
  std::thread serving{[&] { (*server)->run(); }};
  auto port = (*server)->port();

  httplib::Client probe{"127.0.0.1", port};
  auto body = probe.Get("/api/test/status");
  if (!body || body->status != 200)
    die("GET /api/test/status failed");
  floor_proc floor{hcfg, body->body};

  std::optional<proc> py;
  int flask_port = 0;
  if (opt.use_flask) {
    py.emplace(std::vector<std::string>{"/usr/bin/python3", opt.flask, body->body});
    flask_port = start_flask(*py);
    if (flask_port == 0)
      std::fprintf(stderr, "labrt-bench-http: no Flask baseline (%s)\n",
                   py->err.c_str());
  }

  // Floor, API, floor again: the machine is shared, take the better floor.
  auto floor1 = best_of(opt, url_of(floor.port));
  auto api = best_of(opt, url_of(port));
  auto floor2 = best_of(opt, url_of(floor.port));
  auto& floor_r = floor1.rps >= floor2.rps ? floor1 : floor2;
  std::optional<wrk_result> flask;
  if (flask_port > 0)
    flask = best_of(opt, url_of(flask_port));

  std::printf("## HTTP: GET /api/test/status, wrk -t2 -c%d -d%ds --latency\n\n",
              opt.connections, opt.seconds);
  std::printf("| server | req/s | p50 ms | p90 ms | p99 ms | of floor |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
  row("floor: httplib::Server, constant body", floor_r, floor_r.rps);
  row("labrt::http_server (runtime + API)", api, floor_r.rps);
  if (flask)
    row("old design: Flask threaded + RLock dict", *flask, floor_r.rps);
  std::printf("\nfloor runs: %.0f and %.0f req/s\n", floor1.rps, floor2.rps);
  auto old_rps = flask ? flask->rps : 1600.0;
  std::printf("API vs floor: %.0f%% (target >= 50%%: %s)\n",
              100.0 * api.rps / floor_r.rps,
              api.rps >= 0.5 * floor_r.rps ? "met" : "MISSED");
  std::printf("API vs old design (%s %.0f req/s): %.1fx (target >= 20x: %s)\n",
              flask ? "measured" : "from notes/http.md,", old_rps,
              api.rps / old_rps, api.rps >= 20 * old_rps ? "met" : "MISSED");
  if (flask)
    std::printf("API vs the notes' 1.6k req/s: %.1fx\n", api.rps / 1600.0);

  auto us = event_latency(opt, port);
  auto p50 = quantile(us, 0.50);
  auto p99 = quantile(us, 0.99);
  std::printf("\n## Events: kv PUT -> SSE line at a reader, %d PUTs\n\n",
              opt.puts);
  std::printf("p50 %.0f us, p99 %.0f us, max %.0f us (target p99 < 5 ms: %s)\n",
              p50, p99, quantile(us, 1.0), p99 < 5000 ? "met" : "MISSED");

  (*server)->stop();
  serving.join();
  server->reset();
  (*rt)->shutdown();

  auto kb = idle_rss_kb(opt);
  std::printf("\n## Daemon idle RSS (labctl serve --config %s)\n\n",
              opt.config.c_str());
  if (kb)
    std::printf("VmRSS %.1f MB after ~1 s idle (target < 30 MB: %s)\n",
                static_cast<double>(*kb) / 1024.0,
                *kb < 30 * 1024 ? "met" : "MISSED");
  else
    std::printf("not measured: the daemon did not start\n");
  return 0;
}
