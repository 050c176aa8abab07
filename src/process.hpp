// Spawning and signalling test processes: fork/exec with a clean environment,
// pidfds, exit-status decoding. Plain C++, no actors (Linux only).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "src/plain_error.hpp"

namespace labrt {

/// Name of the environment variable that marks every process of one run.
inline constexpr const char* run_cookie_var = "LABRT_RUN_COOKIE";

/// Owns one file descriptor and closes it on destruction. Move-only.
class unique_fd {
public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {
  }
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {
  }
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other)
      reset(other.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() {
    reset();
  }

  /// The descriptor, or -1.
  int get() const noexcept {
    return fd_;
  }

  /// Gives up ownership without closing.
  int release() noexcept {
    return std::exchange(fd_, -1);
  }

  /// Closes the current descriptor (if any) and owns `fd` instead.
  void reset(int fd = -1) noexcept;

  explicit operator bool() const noexcept {
    return fd_ >= 0;
  }

private:
  int fd_ = -1;
};

/// What to run and how.
struct spawn_spec {
  /// Program and arguments. A program without '/' is looked up in the PATH
  /// of the child's environment (or "/usr/bin:/bin" if it has none). With
  /// `use_shell`, argv[0] is the shell command and argv[1..] become $1...
  std::vector<std::string> argv;
  /// Working directory of the child; empty = ours.
  std::string cwd;
  /// Variables set in the child (override inherited ones).
  std::map<std::string, std::string> env;
  /// Allowlist of names copied from our environment (if set there).
  std::vector<std::string> inherit_env;
  /// Runs `/bin/sh -c argv[0] sh argv[1]...`.
  bool use_shell = false;
  /// If non-empty, set as LABRT_RUN_COOKIE=<cookie> in the child so that its
  /// descendants can be found even after they left its session.
  std::string cookie;
  /// If >= 0, the file executed (execveat of the descriptor, e.g. an O_PATH
  /// one from open_script), so that the file checked is the file run; argv
  /// (argv[0] included) is passed as given. A "#!" script's interpreter
  /// reads it as /dev/fd/<exec_fd>, so it stays open in the child then.
  /// Not owned, >= 3; open until spawn returns. Not with `use_shell`.
  int exec_fd = -1;
  /// If >= 3, stays open in the child under its number (e.g. for a
  /// "/dev/fd/<keep_fd>" argument). Not owned.
  int keep_fd = -1;
};

/// A running child. Owns its descriptors (all O_CLOEXEC), not the process:
/// destroying a `child` neither kills nor reaps it.
struct child {
  pid_t pid = -1;
  unique_fd pidfd;
  /// Process group (and session) id; equals `pid` since the child calls setsid.
  pid_t pgid = -1;
  /// Read ends of the child's stdout and stderr pipes (O_NONBLOCK).
  unique_fd out_fd;
  unique_fd err_fd;
};

/// Starts a process in its own session and process group, stdin from
/// /dev/null, stdout/stderr to pipes, default signal mask and dispositions,
/// exactly the environment described by `spec`. Fails with
/// `errc::spawn_failed` if the program cannot be executed (the failed child is
/// reaped), `errc::invalid_argument` on a malformed spec and
/// `errc::system_error` if a system call fails in the parent.
plain_expected<child> spawn(const spawn_spec& spec);

/// A pidfd (O_CLOEXEC) for `pid`. The caller owns it.
plain_expected<int> pidfd_open(pid_t pid);

/// Sends `sig` through a pidfd. A process that is already gone is no error.
plain_error send_signal(int pidfd, int sig);

/// Reaps the process behind `pidfd` if it is a zombie child of ours (waitid
/// P_PIDFD, WNOHANG: that very process, whatever its pid has become since).
/// True once it is gone for good: reaped now, or earlier by its parent.
/// False while it lives, or while it is a zombie of another parent, which
/// reaps it or, by dying, hands it to us (if we are its child subreaper).
bool reap_if_gone(int pidfd);

/// How a process ended.
struct exit_info {
  /// Exit code if it exited, else -1.
  int exit_code = -1;
  /// Terminating signal, or 0.
  int signal = 0;
  /// E.g. "SIGKILL"; empty if it exited normally.
  std::string signal_name;
  /// Whether the kernel wrote a core dump.
  bool core_dumped = false;
};

/// Decodes a waitpid() status.
exit_info decode_wait_status(int status);

/// Decodes a waitid() result: `code` = si_code, `status` = si_status.
exit_info decode_siginfo(int code, int status);

/// "SIGSEGV" for SIGSEGV, "SIGRTMIN+3" for real-time ones, "SIG<n>" otherwise.
std::string signal_name(int sig);

/// Makes us a child subreaper (prctl PR_SET_CHILD_SUBREAPER): orphaned
/// descendants reparent to this process instead of init, so they stay
/// findable and we can reap them. Affects the whole process.
bool set_child_subreaper();

} // namespace labrt
