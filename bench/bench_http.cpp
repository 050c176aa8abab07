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
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "labrt/errc.hpp"
#include "labrt/http.hpp"
#include "labrt/sse.hpp"
#include "labrt/runtime.hpp"
#include "src/process.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;
using labrt::json;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "labrt-bench-http: %s\n", what.c_str());
  std::exit(1);
}

struct options {
  int seconds = 5;
  int connections = 64;
  int puts = 2000;
  int repeat = 1;
  std::string labctl = LABCTL_PATH;
  std::string config = LABRT_SOURCE_DIR "/examples/demo/labrt.json";
  std::string flask = LABRT_SOURCE_DIR "/bench/flask_baseline.py";
  bool use_flask = true;
};

// -- child processes ---------------------------------------------------------

/// A child and what it wrote so far.
struct proc {
  labrt::child c;
  std::string out;
  std::string err;
  bool reaped = false;

  explicit proc(std::vector<std::string> argv) {
    labrt::spawn_spec spec;
    spec.argv = std::move(argv);
    spec.inherit_env = {"PATH", "HOME"};
    auto x = labrt::spawn(spec);
    if (!x)
      die("cannot start " + spec.argv[0] + ": " + labrt::render(x.error()));
    c = std::move(*x);
  }

  ~proc() {
    if (!reaped) {
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, nullptr, 0);
    }
  }

  /// Reads both pipes until `done()` holds, the child exits (when `to_exit`)
  /// or `until` passes. False at the deadline.
  template <class Done>
  bool read_until(clock_type::time_point until, Done done,
                  bool to_exit = false) {
    pollfd fds[3] = {{c.out_fd.get(), POLLIN, 0},
                     {c.err_fd.get(), POLLIN, 0},
                     {c.pidfd.get(), POLLIN, 0}};
    std::string* sinks[2] = {&out, &err};
    while (!done()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    until - clock_type::now())
                    .count();
      if (left <= 0)
        return false;
      if (::poll(fds, 3, static_cast<int>(left)) <= 0)
        continue;
      for (int i = 0; i < 2; ++i)
        if (fds[i].fd >= 0 && fds[i].revents != 0) {
          char buf[8192];
          auto n = ::read(fds[i].fd, buf, sizeof buf);
          if (n > 0)
            sinks[i]->append(buf, static_cast<size_t>(n));
          else if (n == 0 || errno != EAGAIN)
            fds[i].fd = -1;
        }
      if (fds[2].fd >= 0 && fds[2].revents != 0) {
        fds[2].fd = -1;
        if (!to_exit)
          return done();
      }
      if (to_exit && fds[0].fd < 0 && fds[1].fd < 0 && fds[2].fd < 0)
        return true;
    }
    return true;
  }

  /// Waits for the exit (SIGKILL at the deadline) and reaps.
  int reap(clock_type::time_point until) {
    pollfd p{c.pidfd.get(), POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  until - clock_type::now())
                  .count();
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0))) <= 0)
      ::kill(c.pid, SIGKILL);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    reaped = true;
    return status;
  }
};

// -- wrk -----------------------------------------------------------------------

struct wrk_result {
  double rps = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  std::string errors; ///< wrk's "Socket errors" / "Non-2xx" lines, if any.
};

/// "1.23ms" -> 1.23; "870.00us" -> 0.87; "1.02s" -> 1020.
double to_ms(const std::string& text) {
  double value = std::atof(text.c_str());
  if (text.find("us") != std::string::npos)
    return value / 1000.0;
  if (text.find("ms") != std::string::npos)
    return value;
  if (text.find('m') != std::string::npos)
    return value * 60'000.0;
  return value * 1000.0; // "s"
}

wrk_result run_wrk(const options& opt, const std::string& url) {
  proc wrk{{"wrk", "-t2", "-c" + std::to_string(opt.connections),
            "-d" + std::to_string(opt.seconds) + "s", "--latency", url}};
  auto until = clock_type::now() + std::chrono::seconds{opt.seconds + 30};
  if (!wrk.read_until(until, [] { return false; }, true))
    die("wrk did not finish");
  auto status = wrk.reap(until);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die("wrk failed: " + wrk.err + wrk.out);
  wrk_result r;
  std::istringstream lines{wrk.out};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words{line};
    std::string first;
    std::string second;
    words >> first >> second;
    if (first == "Requests/sec:")
      r.rps = std::atof(second.c_str());
    else if (first == "50%")
      r.p50_ms = to_ms(second);
    else if (first == "90%")
      r.p90_ms = to_ms(second);
    else if (first == "99%")
      r.p99_ms = to_ms(second);
    else if (first == "Socket" || first == "Non-2xx")
      r.errors += line + "; ";
  }
  if (r.rps <= 0)
    die("cannot read wrk's output:\n" + wrk.out);
  return r;
}

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

double quantile(std::vector<double> xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[static_cast<size_t>(q * static_cast<double>(xs.size() - 1))];
}

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

std::string url_of(int port) {
  return "http://127.0.0.1:" + std::to_string(port) + "/api/test/status";
}

wrk_result best_of(const options& opt, const std::string& url) {
  wrk_result best;
  for (int i = 0; i < opt.repeat; ++i) {
    auto r = run_wrk(opt, url);
    if (r.rps > best.rps)
      best = r;
  }
  return best;
}

void row(const char* name, const wrk_result& r, double floor_rps) {
  std::printf("| %s | %.0f | %.2f | %.2f | %.2f | %.0f%% |%s\n", name, r.rps,
              r.p50_ms, r.p90_ms, r.p99_ms, 100.0 * r.rps / floor_rps,
              r.errors.empty() ? "" : (" " + r.errors).c_str());
}

} // namespace

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
