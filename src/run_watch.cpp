#include "src/run_watch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "src/event_fd.hpp"
#include "labrt/errc.hpp"
#include "src/output_capture.hpp"
#include "src/proc_tree.hpp"
#include "src/script_path.hpp"
#include "src/sys_util.hpp"

namespace labrt {

namespace {

using namespace std::chrono_literals;

/// Rescan period while stopping and members are still alive.
constexpr auto stop_rescan = 20ms;
/// Scan period while the run runs: learns the sessions of escapees and reaps
/// orphans that died unseen.
constexpr auto run_rescan = 1000ms;
/// How long output may stay open after nothing of the run is found (a
/// writer we cannot find, e.g. one that cleared its environment).
constexpr auto linger = 1000ms;
/// Member pidfds polled at once while stopping (more: found by rescans).
constexpr size_t max_polled_members = 64;

// How long an end waits for a child of ours to show its environ again: one
// inside an execve shows none for a moment, one that cleared it for good
// never will.
constexpr auto exec_settle = 100ms;

int poll_ms(std::chrono::steady_clock::duration d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000));
}

} // namespace

run_watch::run_watch(watch_job job) : job_(std::move(job)) {
  // nop
}

run_watch::~run_watch() = default;

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

uint64_t run_watch::take_credits() {
  auto n = event_fd::drain(job_.credit_fd);
  inflight_ -= std::min(inflight_, n);
  return n;
}

bool run_watch::flush(bool force) {
  if (pending_.empty() && dropped_ == 0)
    return true;
  if (job_.credit_fd >= 0) {
    take_credits();
    if (inflight_ >= job_.max_inflight && !force)
      return false;
  }
  if (hooks_.batch)
    hooks_.batch(std::move(pending_), dropped_);
  ++inflight_;
  pending_.clear();
  pending_bytes_ = 0;
  dropped_ = 0;
  return true;
}

void run_watch::on_line(int stream, std::string_view line) {
  ++lines_;
  if ((pending_.size() >= job_.batch_lines
        || pending_bytes_ + line.size() > job_.batch_bytes)
    && !flush(false)) {
    ++dropped_;
    ++dropped_total_;
    return;
  }
  if (pending_.empty())
    pending_since_ = clock::now();
  pending_.push_back(
    output_line{static_cast<uint8_t>(stream), std::string{line}, lines_});
  pending_bytes_ += line.size();
}

plain_expected<child> run_watch::spawn_job() {
  if (job_.script.empty()) {
    script_path_ = job_.spec.argv.empty() ? "" : job_.spec.argv[0];
    return spawn(job_.spec);
  }
  if (job_.script_arg >= job_.spec.argv.size())
    return plain_error{errc::invalid_argument, "run_watch: no script argument"};
  auto script = open_script(job_.roots, job_.script);
  if (!script)
    return std::move(script.error());
  // spawn wants it above stdio (ours may be closed in a daemon).
  if (script->fd.get() < 3)
    script->fd.reset(::fcntl(script->fd.get(), F_DUPFD_CLOEXEC, 3));
  if (!script->fd)
    return system_error("run_watch: fcntl", errno);
  auto spec = job_.spec;
  // $0 of a script run from a descriptor is /dev/fd/N: this is its name.
  spec.env["LABRT_SCRIPT"] = script->path;
  if (job_.script_arg == 0) {
    spec.argv[0] = script->path;
    spec.exec_fd = script->fd.get();
  } else {
    spec.argv[job_.script_arg] = "/dev/fd/" + std::to_string(script->fd.get());
    spec.keep_fd = script->fd.get();
  }
  auto result = spawn(spec);
  if (result)
    script_path_ = std::move(script->path);
  return result;
}

plain_expected<run_ended> run_watch::run(watch_hooks hooks) {
  hooks_ = std::move(hooks);
  if (job_.spec.cookie.empty())
    return plain_error{errc::invalid_argument, "run_watch: no cookie"};
  if (!job_.log_path.empty()) {
    // Fail before anything runs (output_capture truncates it later).
    unique_fd probe{
      ::open(job_.log_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644)};
    if (!probe)
      return system_error("cannot create log '" + job_.log_path + "'", errno);
  }
  auto spawned = spawn_job();
  if (!spawned)
    return std::move(spawned.error());
  child_ = std::move(*spawned);
  sessions_.push_back(child_.pid);
  if (proc_stat st; read_proc_stat(child_.pid, st))
    min_start_ = st.start_ticks;
  auto start = clock::now();
  if (hooks_.started)
    hooks_.started(child_.pid, child_.pgid);
  run_ended result;
  result.run_id = job_.run_id;
  auto cap = output_capture::make(std::move(child_.out_fd),
    std::move(child_.err_fd), job_.log_path, job_.log_max_bytes,
    [this](int stream, std::string_view line) { on_line(stream, line); });
  if (!cap) {
    // Cannot happen short of fd exhaustion; never leave the run behind.
    result.error = render(cap.error());
    stop("error", 0ms);
  }
  auto deadline = job_.timeout.count() > 0 ? start + job_.timeout
                                           : clock::time_point::max();
  auto next_run_scan = start + run_rescan;
  auto linger_until = clock::time_point::max();
  std::vector<pollfd> pfds;
  std::vector<pid_t> polled_members;
  for (;;) {
    auto now = clock::now();
    if (!stopping_ && !leader_exited_ && now >= deadline) {
      timed_out_ = true;
      stop("timeout", job_.grace);
    }
    if (stopping_ || leader_exited_)
      step_stop(now);
    else if (now >= next_run_scan) {
      scan_and_signal(0, false);
      members_.reap(child_.pid);
      reap_session_zombies(sessions_, child_.pid);
      next_run_scan = now + run_rescan;
    }
    if (abandoned_)
      break;
    bool output_done = !cap || (*cap)->at_eof();
    if (processes_done_) {
      if (output_done)
        break;
      if (linger_until == clock::time_point::max())
        linger_until = now + linger;
      else if (now >= linger_until) {
        result.error = "output still open after the run ended (a process "
                       "outside the run's tree holds it)";
        break;
      }
    }
    // What to wait for, and until when.
    auto until = clock::time_point::max();
    pfds.clear();
    polled_members.clear();
    if (cap) {
      for (int stream = 1; stream <= 2; ++stream)
        if ((*cap)->fd(stream) >= 0)
          pfds.push_back({(*cap)->fd(stream), POLLIN, 0});
    }
    size_t fixed = pfds.size();
    pfds.push_back({leader_exited_ ? -1 : child_.pidfd.get(), POLLIN, 0});
    pfds.push_back({job_.wake_fd, POLLIN, 0});
    bool want_credit = !pending_.empty() && job_.credit_fd >= 0
      && inflight_ >= job_.max_inflight;
    pfds.push_back({want_credit ? job_.credit_fd : -1, POLLIN, 0});
    if (!pending_.empty() && !want_credit)
      until = std::min(until, pending_since_ + job_.flush_after);
    if (!processes_done_) {
      if (stopping_ || leader_exited_) {
        until = std::min(until, next_scan_);
        if (stopping_ && !kill_sent_)
          until = std::min(until, kill_at_);
        for (auto [pid, fd] : members_.some_live(max_polled_members)) {
          pfds.push_back({fd, POLLIN, 0});
          polled_members.push_back(pid);
        }
      } else {
        until = std::min({until, deadline, next_run_scan});
      }
    } else {
      until = std::min(until, linger_until);
    }
    auto timeout
      = until == clock::time_point::max() ? -1 : poll_ms(until - now);
    if (::poll(pfds.data(), pfds.size(), timeout) < 0) {
      if (errno == EINTR)
        continue;
      result.error = "poll failed: " + errno_text(errno);
      stop("error", 0ms);
      continue;
    }
    for (size_t i = 0; i < fixed; ++i)
      if (pfds[i].revents != 0)
        for (int stream = 1; stream <= 2; ++stream)
          if ((*cap)->fd(stream) == pfds[i].fd)
            (*cap)->read_some(stream);
    // Before the hooks below, which may rescan and replace members.
    for (size_t i = 0; i < polled_members.size(); ++i)
      if (pfds[fixed + 3 + i].revents != 0)
        members_.exited(polled_members[i]);
    if (pfds[fixed].revents != 0 && !leader_exited_)
      on_leader_exit();
    if (pfds[fixed + 1].revents != 0) {
      event_fd::drain(job_.wake_fd);
      if (hooks_.wake)
        hooks_.wake();
    }
    if (!pending_.empty()
      && (pending_.size() >= job_.batch_lines
        || clock::now() >= pending_since_ + job_.flush_after))
      flush(false);
  }
  // The end: what is left of the output, then the totals.
  capture_result totals;
  if (cap)
    totals = (*cap)->finish(!(*cap)->at_eof());
  flush(true);
  result.exit_code = exit_.exit_code;
  result.signal = exit_.signal;
  result.signal_name = exit_.signal_name;
  result.core_dumped = exit_.core_dumped;
  result.timed_out = timed_out_;
  result.stopped_by = abandoned_ ? "abandoned" : stopped_by_;
  result.leftovers = leftovers_;
  result.out_bytes = totals.out_bytes;
  result.err_bytes = totals.err_bytes;
  result.log_cut_bytes = totals.cut_bytes;
  result.lines_dropped = dropped_total_;
  if (!totals.log_error.empty() && result.error.empty())
    result.error = totals.log_error;
  return result;
}

} // namespace labrt
