// Runs the real labctl binary as a child process (test_runner, test_labctl).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "src/process.hpp"
#include "support.hpp"

namespace labrt::test {

struct labctl_result {
  int code = -1; ///< Exit code, or 128+N if killed by signal N.
  std::string out;
  std::string err;
};

/// Runs a program (`argv`, argv[0] its path) with a clean environment (PATH
/// only); reads both pipes until EOF and the exit through the pidfd.
/// `on_output` sees what was read so far after each read (e.g. to signal the
/// program once it printed something). Fails after `limit`, killing it.
inline labctl_result
run_program(std::vector<std::string> argv,
            const std::function<void(pid_t, const labctl_result&)>& on_output
            = {},
            std::chrono::milliseconds limit = std::chrono::seconds{60}) {
  spawn_spec spec;
  spec.argv = std::move(argv);
  spec.inherit_env = {"PATH"};
  auto c = spawn(spec);
  REQUIRE(c);
  labctl_result r;
  std::string* sinks[2] = {&r.out, &r.err};
  pollfd fds[3] = {{c->out_fd.get(), POLLIN, 0},
                   {c->err_fd.get(), POLLIN, 0},
                   {c->pidfd.get(), POLLIN, 0}};
  auto until = std::chrono::steady_clock::now() + limit;
  while (fds[0].fd >= 0 || fds[1].fd >= 0 || fds[2].fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  until - std::chrono::steady_clock::now())
                  .count();
    if (left <= 0 || ::poll(fds, 3, static_cast<int>(left)) == 0) {
      ::kill(c->pid, SIGKILL);
      ::waitpid(c->pid, nullptr, 0);
      FAIL(spec.argv[0] << " did not finish in time; stdout: " << r.out
                                                     << " stderr: " << r.err);
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      auto n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0)
        sinks[i]->append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EAGAIN)
        fds[i].fd = -1;
    }
    if (fds[2].fd >= 0 && fds[2].revents != 0)
      fds[2].fd = -1; // Exited; the pipes may still hold its last words.
    if (on_output)
      on_output(c->pid, r);
  }
  int status = 0;
  REQUIRE(::waitpid(c->pid, &status, 0) == c->pid);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

/// Runs labctl with `args`, as run_program does.
inline labctl_result
run_labctl(const std::vector<std::string>& args,
           const std::function<void(pid_t, const labctl_result&)>& on_output
           = {},
           std::chrono::milliseconds limit = std::chrono::seconds{60}) {
  std::vector<std::string> argv{LABCTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(std::move(argv), on_output, limit);
}

/// The last line of labctl's stdout as JSON (discarded if it is not JSON).
inline json last_json_line(const std::string& out) {
  auto end = out.find_last_not_of('\n');
  auto begin = out.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return json::parse(out.substr(begin, end + 1 - begin), nullptr, false);
}

inline bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace labrt::test
