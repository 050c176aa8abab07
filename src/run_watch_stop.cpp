// run_watch's end game: a stop's TERM -> grace -> KILL, the rescans that
// find what is left of the run's tree, and the reaping once nothing is.
#include "src/run_watch.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "src/proc_tree.hpp"

namespace labrt {

namespace {

using namespace std::chrono_literals;

/// Rescan period while stopping and members are still alive.
constexpr auto stop_rescan = 20ms;

// How long an end waits for a child of ours to show its environ again: one
// inside an execve shows none for a moment, one that cleared it for good
// never will.
constexpr auto exec_settle = 100ms;

} // namespace

void run_watch::stop(std::string by, std::chrono::milliseconds grace) {
  if (processes_done_ || abandoned_)
    return;
  auto now = clock::now();
  if (stopping_) {
    kill_at_ = std::min(kill_at_, now + grace);
    return;
  }
  stopping_ = true;
  if (stopped_by_.empty())
    stopped_by_ = std::move(by);
  kill_at_ = now + grace;
  scan_and_signal(SIGTERM, true);
  next_scan_ = now + stop_rescan;
}

void run_watch::abandon() {
  abandoned_ = true;
}

void run_watch::note_sessions(const std::vector<pid_t>& pids) {
  proc_stat st;
  for (auto pid : pids)
    if (read_proc_stat(pid, st) && st.session > 0
      && std::find(sessions_.begin(), sessions_.end(), st.session)
        == sessions_.end())
      sessions_.push_back(st.session);
}

int run_watch::scan_and_signal(int sig, bool resignal) {
  // The leader is not reaped before the end, so its pid and its process
  // group cannot belong to anybody else while we look for them.
  members_.note_exits();
  auto found = run_members(child_.pid, job_.spec.cookie, min_start_);
  note_sessions(found);
  std::vector<int> fresh;
  for (auto pid : found)
    if (auto fd = members_.add(pid); fd >= 0)
      fresh.push_back(fd);
  if (sig != 0) {
    if (resignal) {
      members_.signal_live(sig);
    } else {
      for (auto fd : fresh)
        send_signal(fd, sig);
    }
    // No kill() of the whole group for what forked since the scan: one
    // killed inside its setsid() dies in a session of its own, so nothing
    // would find its zombie to reap. The next scan finds it alive instead.
  }
  // Members no scan finds but whose pidfd has not reported their end count
  // too: one dying after SIGKILL shows no environ (so no cookie) and is no
  // zombie yet, e.g. while the kernel frees its memory.
  return static_cast<int>(members_.live());
}

void run_watch::on_leader_exit() {
  leader_exited_ = true;
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  // WNOWAIT: read the status but keep the zombie (and thus its pid) for now.
  while (::waitid(P_PIDFD, static_cast<id_t>(child_.pidfd.get()), &info,
           WEXITED | WNOHANG | WNOWAIT)
      < 0
    && errno == EINTR) {
  }
  exit_ = decode_siginfo(info.si_code, info.si_status);
  if (stopping_)
    return;
  // Whatever lives on was started by the script: it goes too.
  auto members = run_members(child_.pid, job_.spec.cookie, min_start_);
  if (members.empty()) {
    step_stop(clock::now());
    return;
  }
  leftovers_ = static_cast<int>(members.size());
  stop({}, job_.grace);
}

void run_watch::step_stop(clock::time_point now) {
  if (processes_done_)
    return;
  if (stopping_ && !kill_sent_ && now >= kill_at_) {
    kill_sent_ = true;
    scan_and_signal(SIGKILL, true);
    next_scan_ = now + 5ms;
  }
  if (stopping_ && members_.live() > 0 && now < next_scan_)
    return;
  // Rescan: signal newcomers (all again once KILL was sent), reap ours.
  int found;
  if (stopping_)
    found = scan_and_signal(kill_sent_ ? SIGKILL : SIGTERM, kill_sent_);
  else
    found = scan_and_signal(0, false);
  members_.reap(child_.pid); // the leader goes last, by child_.pidfd
  reap_session_zombies(sessions_, child_.pid);
  next_scan_ = now + (kill_sent_ ? 5ms : stop_rescan);
  if (!stopping_ && found > 0) {
    // Started after the script's exit was seen: a leftover as well.
    leftovers_ = found;
    stop({}, job_.grace);
    return;
  }
  if (found > 0 || !leader_exited_) {
    empty_scans_ = 0;
    settle_until_ = {};
    return;
  }
  // Two empty scans in a row: a process caught mid-execve reads as empty
  // once.
  if (++empty_scans_ < 2) {
    next_scan_ = now;
    return;
  }
  // An escapee we adopted may still be inside its execve, showing no
  // environ and so no cookie: scan again until it shows one.
  if (settle_until_ == clock::time_point{})
    settle_until_ = now + exec_settle;
  if (now < settle_until_ && child_without_environ(min_start_)) {
    next_scan_ = now + 1ms;
    return;
  }
  finish_processes();
}

void run_watch::finish_processes() {
  members_.reap(child_.pid);
  reap_session_zombies(sessions_, child_.pid);
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  while (::waitid(P_PIDFD, static_cast<id_t>(child_.pidfd.get()), &info,
           WEXITED | WNOHANG)
      < 0
    && errno == EINTR) {
  }
  members_.clear();
  processes_done_ = true;
}

} // namespace labrt
