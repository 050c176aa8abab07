// labrt-bench-http's child processes (wrk, the daemon, the Flask baseline)
// and its wrk runs; the options they read.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "labrt/errc.hpp"
#include "src/process.hpp"
#include "stats.hpp"

namespace labrt::bench::http {

[[noreturn]] inline void die(const std::string& what) {
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

/// `wrk -t2 -cC -dSs --latency url`, its figures read off its output.
wrk_result run_wrk(const options& opt, const std::string& url);

/// The best (by req/s) of --repeat wrk runs.
wrk_result best_of(const options& opt, const std::string& url);

/// GET /api/test/status on 127.0.0.1:`port`.
std::string url_of(int port);

} // namespace labrt::bench::http
