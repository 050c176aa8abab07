// The helpers of test_monitor: processes the test starts (killed and reaped
// on destruction), rules and configs, and waits for a service's record.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/scoped_actor.hpp>

#include "labrt/ps.hpp"
#include "src/process.hpp"
#include "tests/support.hpp"

namespace labrt::test {

using clock_type = std::chrono::steady_clock;

/// A process this test started: killed and reaped on destruction.
struct proc {
  explicit proc(spawn_spec spec) {
    auto c = spawn(spec);
    if (!c)
      FAIL("spawn failed: " << render(c.error()));
    ch = std::move(*c);
  }
  proc(const std::vector<std::string>& argv)
    : proc(spawn_spec{argv, {}, {}, {}, false, {}}) {}
  ~proc() {
    kill();
    reap();
  }
  pid_t pid() const {
    return ch.pid;
  }
  void kill() {
    if (!reaped)
      send_signal(ch.pidfd.get(), SIGKILL);
  }
  void reap() {
    if (reaped)
      return;
    int status = 0;
    ::waitpid(ch.pid, &status, 0);
    reaped = true;
  }
  child ch;
  bool reaped = false;
};

inline runtime_config monitor_config_with(
  std::vector<service_rule> rules, int64_t interval_ms) {
  runtime_config cfg;
  cfg.runner.enabled = false;
  cfg.monitor.services = std::move(rules);
  cfg.monitor.interval_ms = interval_ms;
  return cfg;
}

inline service_rule comm_rule(const std::string& name, const std::string& comm) {
  return service_rule{name, match_kind::comm, comm};
}

/// The rule of the runtime tests. ctest runs test cases in parallel, each in
/// its own process and each with processes named qsfp_service: the exe path
/// (the copy in this test's temp dir) keeps them apart. comm rules are
/// covered by the scanner tests, which scan explicit pid lists.
inline service_rule exe_rule(const std::string& name, const std::string& exe) {
  return service_rule{name, match_kind::exe, exe};
}

/// Receives change events until the record of `service` satisfies `pred`.
/// Returns the record and when it arrived.
inline std::pair<service_record, clock_type::time_point> wait_record(
  caf::scoped_actor& self, const std::string& service,
  const std::function<bool(const service_record&)>& pred) {
  auto key = "record/" + service;
  auto until = clock_type::now() + deadline;
  for (;;) {
    std::optional<service_record> got;
    bool any = receive_until(until, [&](auto wait) {
      self->receive(
        [&](change_event& ev) {
          if (ev.key == key && !ev.new_value.is_null())
            got = ev.new_value.get<service_record>();
        },
        std::move(wait));
    });
    if (!any)
      FAIL("no matching record of " << service << " in time");
    if (got && pred(*got))
      return {*got, clock_type::now()};
  }
}

template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::scoped_actor& self, const Handle& h, Ts&&... xs) {
  caf::expected<T> result{T{}};
  self->request(h, deadline, std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
      [&](caf::error& err) { result = std::move(err); });
  return result;
}

inline bool has_pids(const service_record& rec, std::vector<int32_t> pids) {
  return rec.running && rec.pids == pids;
}

/// Reads one line from a child's stdout (non-blocking), without the '\n'.
inline std::string read_line(int fd) {
  std::string text;
  auto until = clock_type::now() + deadline;
  while (text.find('\n') == std::string::npos) {
    if (clock_type::now() > until)
      FAIL("no line in time, got '" << text << "'");
    pollfd pfd{fd, POLLIN, 0};
    ::poll(&pfd, 1, 100);
    char buf[64];
    auto n = ::read(fd, buf, sizeof(buf));
    if (n > 0)
      text.append(buf, static_cast<size_t>(n));
  }
  return text.substr(0, text.find('\n'));
}

/// Reads the pid a shell echoes.
inline pid_t read_pid_line(int fd) {
  return static_cast<pid_t>(std::stol(read_line(fd)));
}

} // namespace labrt::test
