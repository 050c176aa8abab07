#include "src/run_watch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

/// Scan period while the run runs: learns the sessions of escapees and reaps
/// orphans that died unseen.
constexpr auto run_rescan = 1000ms;
/// How long output may stay open after nothing of the run is found (a
/// writer we cannot find, e.g. one that cleared its environment).
constexpr auto linger = 1000ms;
/// Member pidfds polled at once while stopping (more: found by rescans).
constexpr size_t max_polled_members = 64;

int poll_ms(std::chrono::steady_clock::duration d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000));
}

} // namespace

run_watch::run_watch(watch_job job) : job_(std::move(job)) {
  // nop
}

run_watch::~run_watch() = default;

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
  run_ended result;
  result.run_id = job_.run_id;
  if (auto err = begin(result))
    return err;
  for (;;) {
    auto now = clock::now();
    if (over(now, result))
      break;
    if (::poll(pfds_.data(), pfds_.size(), poll_set(now)) < 0) {
      if (errno == EINTR)
        continue;
      result.error = "poll failed: " + errno_text(errno);
      stop("error", 0ms);
      continue;
    }
    on_ready();
  }
  return finish(std::move(result));
}

plain_error run_watch::begin(run_ended& result) {
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
  auto cap = output_capture::make(std::move(child_.out_fd),
    std::move(child_.err_fd), job_.log_path, job_.log_max_bytes,
    [this](int stream, std::string_view line) { on_line(stream, line); });
  if (cap) {
    cap_ = std::move(*cap);
  } else {
    // Cannot happen short of fd exhaustion; never leave the run behind.
    result.error = render(cap.error());
    stop("error", 0ms);
  }
  if (job_.timeout.count() > 0)
    deadline_ = start + job_.timeout;
  next_run_scan_ = start + run_rescan;
  return {};
}

bool run_watch::over(clock::time_point now, run_ended& result) {
  if (!stopping_ && !leader_exited_ && now >= deadline_) {
    timed_out_ = true;
    stop("timeout", job_.grace);
  }
  if (stopping_ || leader_exited_)
    step_stop(now);
  else if (now >= next_run_scan_) {
    scan_and_signal(0, false);
    members_.reap(child_.pid);
    reap_session_zombies(sessions_, child_.pid);
    next_run_scan_ = now + run_rescan;
  }
  if (abandoned_)
    return true;
  if (!processes_done_)
    return false;
  if (!cap_ || cap_->at_eof())
    return true;
  if (linger_until_ == clock::time_point::max()) {
    linger_until_ = now + linger;
  } else if (now >= linger_until_) {
    result.error = "output still open after the run ended (a process "
                   "outside the run's tree holds it)";
    return true;
  }
  return false;
}

int run_watch::poll_set(clock::time_point now) {
  auto until = clock::time_point::max();
  pfds_.clear();
  polled_members_.clear();
  if (cap_)
    for (int stream = 1; stream <= 2; ++stream)
      if (cap_->fd(stream) >= 0)
        pfds_.push_back({cap_->fd(stream), POLLIN, 0});
  outputs_ = pfds_.size();
  pfds_.push_back({leader_exited_ ? -1 : child_.pidfd.get(), POLLIN, 0});
  pfds_.push_back({job_.wake_fd, POLLIN, 0});
  bool want_credit = !pending_.empty() && job_.credit_fd >= 0
    && inflight_ >= job_.max_inflight;
  pfds_.push_back({want_credit ? job_.credit_fd : -1, POLLIN, 0});
  if (!pending_.empty() && !want_credit)
    until = std::min(until, pending_since_ + job_.flush_after);
  if (processes_done_) {
    until = std::min(until, linger_until_);
  } else if (stopping_ || leader_exited_) {
    until = std::min(until, next_scan_);
    if (stopping_ && !kill_sent_)
      until = std::min(until, kill_at_);
    for (auto [pid, fd] : members_.some_live(max_polled_members)) {
      pfds_.push_back({fd, POLLIN, 0});
      polled_members_.push_back(pid);
    }
  } else {
    until = std::min({until, deadline_, next_run_scan_});
  }
  return until == clock::time_point::max() ? -1 : poll_ms(until - now);
}

void run_watch::on_ready() {
  for (size_t i = 0; i < outputs_; ++i)
    if (pfds_[i].revents != 0)
      for (int stream = 1; stream <= 2; ++stream)
        if (cap_->fd(stream) == pfds_[i].fd)
          cap_->read_some(stream);
  // Before the hooks below, which may rescan and replace members.
  auto& leader = pfds_[outputs_];
  auto& wake = pfds_[outputs_ + 1];
  for (size_t i = 0; i < polled_members_.size(); ++i)
    if (pfds_[outputs_ + 3 + i].revents != 0)
      members_.exited(polled_members_[i]);
  if (leader.revents != 0 && !leader_exited_)
    on_leader_exit();
  if (wake.revents != 0) {
    event_fd::drain(job_.wake_fd);
    if (hooks_.wake)
      hooks_.wake();
  }
  if (!pending_.empty()
    && (pending_.size() >= job_.batch_lines
      || clock::now() >= pending_since_ + job_.flush_after))
    flush(false);
}

run_ended run_watch::finish(run_ended result) {
  // What is left of the output, then the totals.
  capture_result totals;
  if (cap_)
    totals = cap_->finish(!cap_->at_eof());
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
