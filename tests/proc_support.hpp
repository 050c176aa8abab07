// Helpers for the tests that work with real processes and files: a
// temporary directory, reading a file whole, finding, signalling and reaping
// processes, peak memory.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "src/proc_tree.hpp"
#include "src/process.hpp"

namespace labrt::test {

#ifdef LABRT_TEST_SCRIPTS_DIR
/// tests/scripts, for the executables whose build names it.
inline const std::string scripts_dir = LABRT_TEST_SCRIPTS_DIR;
#endif

/// A forked child that ran `body(fd)`, fd being the write end of a pipe to
/// the parent, and exited with what it returned. Fork only while the test
/// process has no other thread (no runtime alive).
struct forked_child {
  pid_t pid = -1;
  unique_fd from_child; ///< The read end of the pipe.
};

template <class Body>
forked_child fork_child(Body body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::_exit(body(fds[1]));
  }
  ::close(fds[1]);
  return {pid, unique_fd{fds[0]}};
}

/// A fresh directory under /tmp, removed with everything in it at scope
/// exit.
struct temp_dir {
  std::string path;

  explicit temp_dir(const std::string& prefix = "labrt-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string operator/(const std::string& name) const {
    return path + "/" + name;
  }
};

/// A copy of `program` as `dir/name`: its comm is `name`.
inline std::string copy_program(const temp_dir& dir, const std::string& name,
                                const char* program) {
  auto dst = dir / name;
  std::filesystem::copy_file(program, dst);
  std::filesystem::permissions(dst, std::filesystem::perms::owner_all);
  return dst;
}

/// /bin/sleep copied as `dir/name`: a stand-in daemon of that name.
inline std::string copy_sleep(const temp_dir& dir, const std::string& name) {
  return copy_program(dir, name, "/bin/sleep");
}

/// The whole content of a file ("" if unreadable).
inline std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Zombie children of this process.
inline std::vector<pid_t> zombie_children() {
  std::vector<pid_t> result;
  proc_stat st;
  for (auto pid : list_pids())
    if (read_proc_stat(pid, st) && st.ppid == ::getpid() && st.state == 'Z')
      result.push_back(pid);
  return result;
}

/// The live processes whose environment holds LABRT_RUN_COOKIE=<cookie>,
/// sorted (run_members without a leader); an empty cookie finds nothing.
inline std::vector<pid_t> find_by_cookie(const std::string& cookie) {
  return run_members(0, cookie);
}

/// Sends `sig` to each pid through a pidfd opened just before; gone
/// processes are skipped. Returns how many were signalled.
inline int signal_pids(const std::vector<pid_t>& pids, int sig) {
  int count = 0;
  for (auto pid : pids) {
    auto fd = pidfd_open(pid);
    if (!fd)
      continue;
    unique_fd guard{*fd};
    if (::syscall(SYS_pidfd_send_signal, guard.get(), sig, nullptr, 0U) == 0)
      ++count;
  }
  return count;
}

/// Reaps those of `pids` that are zombie children of this process, never
/// waiting for any other child. Returns how many were reaped.
inline int reap_children_nohang(const std::vector<pid_t>& pids) {
  int count = 0;
  proc_stat st;
  for (auto pid : pids) {
    if (pid <= 0 || !read_proc_stat(pid, st) || st.ppid != ::getpid()
      || st.state != 'Z')
      continue;
    pid_t r;
    do {
      r = ::waitpid(pid, nullptr, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid)
      ++count;
  }
  return count;
}

/// VmRSS and VmHWM of this process in kB, from one read of
/// /proc/self/status (two reads could see another thread grow in between).
struct rss_kb {
  uint64_t now = 0;
  uint64_t peak = 0;
};

inline rss_kb read_rss_kb() {
  rss_kb result;
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0)
      result.now = std::stoull(line.substr(6));
    else if (line.rfind("VmHWM:", 0) == 0)
      result.peak = std::stoull(line.substr(6));
  }
  return result;
}

/// How far this process's peak RSS rose above its RSS at the start while
/// `fn` ran, in kB. Resets the peak first (clear_refs 5), so what earlier
/// tests or allocator warm-up left behind does not count.
template <class F>
uint64_t peak_growth_kb(F&& fn) {
  std::ofstream{"/proc/self/clear_refs"} << "5";
  auto before = read_rss_kb();
  // The reset took effect: the peak is not the lifetime one.
  REQUIRE(before.peak <= before.now + 4096);
  fn();
  auto peak = read_rss_kb().peak;
  return peak > before.now ? peak - before.now : 0;
}

} // namespace labrt::test
