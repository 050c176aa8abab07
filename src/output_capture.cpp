#include "src/output_capture.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "labrt/errc.hpp"
#include "src/sys_util.hpp"

namespace labrt {

namespace {

constexpr size_t read_chunk = 64 * 1024;

std::string cut_marker(uint64_t n) {
  return "\n[labrt: " + std::to_string(n) + " bytes cut]\n";
}

} // namespace

plain_expected<std::unique_ptr<output_capture>> output_capture::make(
  unique_fd out, unique_fd err, const std::string& log_path, uint64_t max_bytes,
  line_handler on_line, size_t max_line) {
  std::unique_ptr<output_capture> self{new output_capture};
  auto stop = event_fd::make();
  if (!stop)
    return std::move(stop.error());
  self->stop_ = std::move(*stop);
  if (!log_path.empty()) {
    // Read-write: cutting reads back what lies past the head.
    self->log_.reset(::open(log_path.c_str(),
                            O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!self->log_)
      return system_error("output_capture: cannot create log '" + log_path
                            + "'",
                          errno);
  }
  self->fds_[0] = std::move(out);
  self->fds_[1] = std::move(err);
  self->max_bytes_ = max_bytes;
  self->head_cap_ = max_bytes / 2;
  self->on_line_ = std::move(on_line);
  self->max_line_ = std::max<size_t>(max_line, 1);
  self->buf_.resize(read_chunk);
  return self;
}

output_capture::~output_capture() = default;

void output_capture::stop() noexcept {
  stop_.notify();
}

plain_expected<capture_result> output_capture::run_until_eof() {
  if (ran_)
    return plain_error{
      errc::invalid_argument, "output_capture: run_until_eof called twice"};
  ran_ = true;
  pollfd pfds[3] = {{fds_[0].get(), POLLIN, 0},
                    {fds_[1].get(), POLLIN, 0},
                    {stop_.get(), POLLIN, 0}};
  bool stopped = false;
  while (!at_eof()) {
    pfds[0].fd = fds_[0].get();
    pfds[1].fd = fds_[1].get();
    if (::poll(pfds, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      return system_error("output_capture: poll", errno);
    }
    if (pfds[2].revents != 0) {
      stopped = true;
      break;
    }
    for (int i = 0; i < 2; ++i)
      if (pfds[i].fd >= 0 && pfds[i].revents != 0)
        read_some(i + 1);
  }
  return finish(stopped);
}

void output_capture::read_some(int stream) {
  auto i = stream - 1;
  if (!fds_[i])
    return;
  // A few reads per wakeup: fewer polls under a flood, yet the other stream
  // still gets its turn (both pipes must keep draining or the child blocks
  // on the one we ignore).
  for (int round = 0; round < 4; ++round) {
    auto n = ::read(fds_[i].get(), buf_.data(), buf_.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n <= 0) { // EOF (or a read error, treated alike)
      fds_[i].reset();
      break;
    }
    auto len = static_cast<size_t>(n);
    (i == 0 ? result_.out_bytes : result_.err_bytes) += len;
    log(buf_.data(), len);
    feed_lines(stream, buf_.data(), len);
    if (len < buf_.size())
      break; // drained for now
  }
}

capture_result output_capture::finish(bool stopped) {
  ran_ = true;
  result_.stopped = stopped;
  for (int stream = 1; stream <= 2; ++stream) {
    auto& st = lines_[stream - 1];
    if (!st.pending.empty() || st.dropped > 0)
      emit_line(stream);
  }
  finish_log();
  return result_;
}

bool output_capture::write_log(const char* data, size_t n) {
  while (n > 0 && log_) {
    auto w = ::write(log_.get(), data, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      // Keep draining the pipes anyway: a stalled child is worse than a
      // short log.
      result_.log_error = "writing the log failed: " + errno_text(errno);
      log_.reset();
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
    result_.written_bytes += static_cast<uint64_t>(w);
  }
  return static_cast<bool>(log_);
}

void output_capture::log(const char* data, size_t n) {
  if (!log_)
    return;
  // The head always goes straight to the file.
  if (logged_ < head_cap_) {
    auto k = static_cast<size_t>(std::min<uint64_t>(n, head_cap_ - logged_));
    write_log(data, k);
    logged_ += k;
    data += k;
    n -= k;
  }
  if (n == 0)
    return;
  if (!cutting_ && logged_ + n > max_bytes_)
    begin_cut();
  logged_ += n;
  if (!cutting_) {
    write_log(data, n);
    return;
  }
  // Ring of the last (max_bytes - head_cap_) bytes.
  auto cap = ring_.size();
  if (cap == 0)
    return;
  if (n >= cap) {
    data += n - cap;
    n = cap;
  }
  auto end = (ring_start_ + ring_size_) % cap;
  auto first = std::min(n, cap - end);
  std::memcpy(ring_.data() + end, data, first);
  std::memcpy(ring_.data(), data + first, n - first);
  ring_size_ += n;
  if (ring_size_ > cap) {
    ring_start_ = (ring_start_ + ring_size_ - cap) % cap;
    ring_size_ = cap;
  }
}

void output_capture::begin_cut() {
  // Until now the file held everything; move what lies past the head into
  // the ring and cut the file back to the head.
  cutting_ = true;
  auto tail_cap = static_cast<size_t>(max_bytes_ - head_cap_);
  ring_.resize(tail_cap);
  auto past_head = static_cast<size_t>(logged_ - head_cap_); // <= tail_cap
  size_t got = 0;
  while (got < past_head) {
    auto r = ::pread(log_.get(), ring_.data() + got, past_head - got,
                     static_cast<off_t>(head_cap_ + got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += static_cast<size_t>(r);
  }
  ring_size_ = got;
  if (got != past_head || ::ftruncate(log_.get(), static_cast<off_t>(head_cap_)) < 0
      || ::lseek(log_.get(), static_cast<off_t>(head_cap_), SEEK_SET) < 0) {
    result_.log_error = "cutting the log failed: " + errno_text(errno);
    log_.reset();
    return;
  }
  result_.written_bytes = head_cap_;
}

void output_capture::finish_log() {
  if (cutting_)
    result_.cut_bytes = logged_ - head_cap_ - ring_size_;
  if (!log_ || !cutting_)
    return;
  auto marker = cut_marker(result_.cut_bytes);
  auto cap = ring_.size();
  auto first = std::min(ring_size_, cap - ring_start_);
  write_log(marker.data(), marker.size())
    && write_log(ring_.data() + ring_start_, first)
    && write_log(ring_.data(), ring_size_ - first);
  std::vector<char>{}.swap(ring_); // give the memory back now
}

void output_capture::feed_lines(int stream, const char* data, size_t n) {
  if (!on_line_)
    return;
  auto& st = lines_[stream - 1];
  while (n > 0) {
    auto nl = static_cast<const char*>(std::memchr(data, '\n', n));
    auto len = nl != nullptr ? static_cast<size_t>(nl - data) : n;
    auto take = std::min(len, max_line_ - st.pending.size());
    st.pending.append(data, take);
    st.dropped += len - take;
    if (nl == nullptr)
      return;
    emit_line(stream);
    data += len + 1;
    n -= len + 1;
  }
}

void output_capture::emit_line(int stream) {
  auto& st = lines_[stream - 1];
  if (st.dropped > 0)
    st.pending += " [labrt: " + std::to_string(st.dropped) + " bytes cut]";
  if (on_line_)
    on_line_(stream, st.pending);
  st.pending.clear();
  st.dropped = 0;
}

plain_expected<exit_info> wait_exit(int pidfd, pid_t pid, int stop_fd) {
  if (pidfd < 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR)
        return system_error("waitpid(" + std::to_string(pid) + ")", errno);
    }
    return decode_wait_status(status);
  }
  pollfd pfds[2] = {{pidfd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  for (;;) {
    if (::poll(pfds, stop_fd >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR)
        continue;
      return system_error("wait_exit: poll", errno);
    }
    if (pfds[0].revents != 0)
      break;
    if (stop_fd >= 0 && pfds[1].revents != 0)
      return plain_error{errc::shutting_down,
        "wait for pid " + std::to_string(pid) + " interrupted"};
  }
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) < 0) {
    if (errno == EINTR)
      continue;
    if (errno == ECHILD)
      return plain_error{errc::system_error,
        "wait for pid " + std::to_string(pid)
          + ": not our child or already reaped"};
    return system_error("waitid(" + std::to_string(pid) + ")", errno);
  }
  return decode_siginfo(info.si_code, info.si_status);
}

} // namespace labrt
