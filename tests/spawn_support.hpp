// The helpers of test_process: spawned children that are killed and reaped
// whatever happens, deadlines as timerfds, and a run's output captured to its
// end while the test waits for its exit.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "src/output_capture.hpp"
#include "src/proc_tree.hpp"
#include "src/process.hpp"
#include "tests/proc_support.hpp"

namespace labrt::test {

/// Sends `sig` to a process group (kill(-pgid)); a gone group is no error.
inline bool signal_group_failed(pid_t pgid, int sig) {
  return pgid <= 1 || (::kill(-pgid, sig) < 0 && errno != ESRCH);
}

/// Set at start-up (spawn_support.cpp): orphans are adopted by this process.
extern const bool subreaper;

/// tests/scripts/`name`.
std::string script(const std::string& name);

void write_file(const std::string& path, const std::string& text,
                mode_t mode);

/// A timerfd that becomes readable after `seconds`: our deadline.
unique_fd deadline_after(int seconds);

/// Waits (with a deadline) until the process behind `pidfd` has exited.
bool wait_gone(int pidfd, int seconds = 30);

/// Kills a spawned run (its group and descendants) and reaps the leader and
/// any member adopted by us unless the test already did: no test leaves a
/// process behind, even when it fails.
struct child_guard {
  pid_t pid;
  bool reaped = false;
  explicit child_guard(pid_t p) : pid(p) {
  }
  ~child_guard() {
    if (reaped)
      return;
    auto kids = descendants(pid);
    std::vector<unique_fd> fds;
    for (auto kid : kids)
      if (auto fd = pidfd_open(kid))
        fds.emplace_back(*fd);
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    for (auto& fd : fds)
      send_signal(fd.get(), SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    for (auto& fd : fds)
      wait_gone(fd.get());
    reap_children_nohang(kids);
  }
};

/// Reads `fd` (non-blocking) until `text` contains `marker` or the deadline.
std::string read_until(int fd, const std::string& marker, int seconds = 30);

/// spawn() that fails the test with the error text.
child spawn_ok(const spawn_spec& spec);

struct run_output {
  exit_info exit;
  std::vector<std::string> out; // the first 1000 lines only: floods stay small
  std::vector<std::string> err;
  size_t out_lines = 0;
  size_t err_lines = 0;
  capture_result cap;
};

/// Spawns `spec`, captures both streams on a thread while this thread waits
/// for the exit with a deadline.
run_output run_to_end(const spawn_spec& spec, const std::string& log_path = {},
                      uint64_t max_bytes = 1 << 20, int seconds = 60);

spawn_spec script_spec(const std::string& name,
                       std::vector<std::string> args = {});

bool contains(const std::vector<std::string>& xs, const std::string& x);

bool contains(const std::vector<pid_t>& xs, pid_t x);

} // namespace labrt::test
