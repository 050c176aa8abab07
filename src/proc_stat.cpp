#include "src/proc_stat.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace labrt {

ssize_t read_at(int dirfd, const char* rel, std::string& buf, size_t cap) {
  int fd = ::openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return -1;
  size_t len = 0;
  for (;;) {
    if (buf.size() - len < 1024)
      buf.resize(std::max<size_t>(buf.size() * 2, 4096));
    auto want = std::min(buf.size(), cap) - len;
    auto n = ::read(fd, buf.data() + len, want);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      ::close(fd);
      return -1;
    }
    len += static_cast<size_t>(n);
    // procfs files come in one piece: a short read is the end.
    if (static_cast<size_t>(n) < want || len >= cap)
      break;
  }
  ::close(fd);
  return static_cast<ssize_t>(len);
}

ssize_t pread_all(int fd, std::string& buf, size_t cap) {
  size_t len = 0;
  for (;;) {
    if (buf.size() - len < 1024)
      buf.resize(std::max<size_t>(buf.size() * 2, 4096));
    auto want = std::min(buf.size(), cap) - len;
    auto n = ::pread(fd, buf.data() + len, want, static_cast<off_t>(len));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    len += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < want || len >= cap)
      break;
  }
  return static_cast<ssize_t>(len);
}

bool parse_proc_stat(std::string_view text, proc_stat& out) {
  // "pid (comm) S ppid ...": comm may hold spaces and ')'.
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos
    || close < open || close + 2 >= text.size())
    return false;
  out.comm.assign(text.substr(open + 1, close - open - 1));
  out.state = text[close + 2];
  // Fields 4.. as numbers; field 3 is the state.
  const char* p = text.data() + close + 3;
  const char* end = text.data() + text.size();
  uint64_t fields[20] = {};
  for (int field = 4; field <= 22; ++field) {
    while (p < end && *p == ' ')
      ++p;
    uint64_t value = 0;
    bool negative = false;
    if (p < end && *p == '-') {
      negative = true;
      ++p;
    }
    const char* start = p;
    while (p < end && *p >= '0' && *p <= '9')
      value = value * 10 + static_cast<uint64_t>(*p++ - '0');
    if (p == start)
      return false;
    fields[field - 4] = negative ? 0 : value;
  }
  out.ppid = static_cast<pid_t>(fields[4 - 4]);
  out.pgrp = static_cast<pid_t>(fields[5 - 4]);
  out.session = static_cast<pid_t>(fields[6 - 4]);
  out.flags = static_cast<uint32_t>(fields[9 - 4]);
  out.threads = static_cast<int64_t>(fields[20 - 4]);
  out.start_ticks = fields[22 - 4];
  return true;
}

bool read_proc_stat(pid_t pid, proc_stat& out) {
  char rel[32];
  std::snprintf(rel, sizeof(rel), "/proc/%d/stat", static_cast<int>(pid));
  std::string buf;
  auto n = read_at(AT_FDCWD, rel, buf, 4096);
  return n > 0
    && parse_proc_stat(
      std::string_view{buf.data(), static_cast<size_t>(n)}, out);
}

bool counts_as_running(const proc_stat& x) noexcept {
  if ((x.flags & pf_kthread) != 0)
    return false;
  if (x.state == 'X' || x.state == 'x')
    return false;
  // A zombie is not running, unless it is a thread-group leader that
  // exited while its other threads still run (num_threads counts them).
  if (x.state == 'Z')
    return x.threads > 1;
  return true;
}

pid_t parse_pid(std::string_view s) noexcept {
  if (s.empty() || s.size() > 9)
    return 0;
  pid_t result = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return 0;
    result = result * 10 + (c - '0');
  }
  return result;
}

std::vector<pid_t> list_pids() {
  std::vector<pid_t> result;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr)
    return result;
  while (auto entry = ::readdir(dir))
    if (auto pid = parse_pid(entry->d_name); pid > 0)
      result.push_back(pid);
  ::closedir(dir);
  std::sort(result.begin(), result.end());
  return result;
}

caf::timestamp ticks_to_time(uint64_t start_ticks) {
  // Boot time with sub-second precision (btime in /proc/stat is whole
  // seconds): wall clock minus the boot-based clock, taken once.
  static const auto boot = [] {
    timespec real{};
    timespec boottime{};
    ::clock_gettime(CLOCK_REALTIME, &real);
    ::clock_gettime(CLOCK_BOOTTIME, &boottime);
    auto ns = [](const timespec& ts) {
      return std::chrono::nanoseconds{ts.tv_sec * 1000000000LL + ts.tv_nsec};
    };
    return ns(real) - ns(boottime);
  }();
  static const auto hz = std::max(1L, ::sysconf(_SC_CLK_TCK));
  auto since_boot = std::chrono::nanoseconds{
    static_cast<int64_t>(start_ticks) * (1000000000LL / hz)};
  return caf::timestamp{
    std::chrono::duration_cast<caf::timestamp::duration>(boot + since_boot)};
}

} // namespace labrt
