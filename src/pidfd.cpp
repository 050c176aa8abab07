// The other half of process.hpp: pidfds, exit statuses, signal names and
// the child-subreaper flag.
#include "src/process.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "labrt/errc.hpp"
#include "src/sys_util.hpp"

namespace labrt {

plain_expected<int> pidfd_open(pid_t pid) {
  auto fd = ::syscall(SYS_pidfd_open, pid, 0U);
  if (fd < 0) {
    auto err = errno;
    if (err == ESRCH)
      return plain_error{
        errc::not_found, "pidfd_open: no process " + std::to_string(pid)};
    return system_error("pidfd_open(" + std::to_string(pid) + ")", err);
  }
  // pidfds are always O_CLOEXEC.
  return static_cast<int>(fd);
}

plain_error send_signal(int pidfd, int sig) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0U) < 0
      && errno != ESRCH)
    return system_error("pidfd_send_signal", errno);
  return {};
}

bool reap_if_gone(int pidfd) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  int r;
  do {
    r = ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0)
    return info.si_pid != 0; // 0: our child, still running
  // Not our child: signal 0 reaches a zombie, but nothing once it is reaped.
  return ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0U) < 0
    && errno == ESRCH;
}

std::string signal_name(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    return sig == SIGRTMIN ? "SIGRTMIN"
                           : "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  if (auto abbrev = ::sigabbrev_np(sig); abbrev != nullptr)
    return std::string{"SIG"} + abbrev;
  return "SIG" + std::to_string(sig);
}

exit_info decode_wait_status(int status) {
  exit_info result;
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.signal_name = signal_name(result.signal);
    result.core_dumped = WCOREDUMP(status);
  }
  return result;
}

exit_info decode_siginfo(int code, int status) {
  exit_info result;
  switch (code) {
    case CLD_EXITED:
      result.exit_code = status;
      break;
    case CLD_DUMPED:
      result.core_dumped = true;
      [[fallthrough]];
    case CLD_KILLED:
      result.signal = status;
      result.signal_name = signal_name(status);
      break;
    default: // stopped/continued: not an exit
      break;
  }
  return result;
}

bool set_child_subreaper() {
  return ::prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL) == 0;
}

} // namespace labrt
