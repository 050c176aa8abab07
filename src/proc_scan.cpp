#include "proc_scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

#include "labrt/errc.hpp"
#include "labrt/ps.hpp"
#include "validate.hpp"

namespace labrt {

namespace {

constexpr uint32_t pf_kthread = 0x00200000;

/// Longest command line read for matching (Linux allows ~2 MiB).
constexpr size_t max_cmdline_bytes = 128 * 1024;

pid_t parse_pid(const char* s) {
  pid_t result = 0;
  int digits = 0;
  for (; *s != '\0'; ++s, ++digits) {
    if (*s < '0' || *s > '9' || digits >= 9)
      return 0;
    result = result * 10 + (*s - '0');
  }
  return result;
}

/// Reads `rel` under the directory `dirfd` into `buf[0..n)`; -1 on error.
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

/// preads `fd` from offset 0 into `buf[0..n)`; -1 on error.
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

/// Parses the text of /proc/<pid>/stat.
bool parse_stat(std::string_view text, proc_ident& out) {
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
  out.flags = static_cast<uint32_t>(fields[9 - 4]);
  out.threads = static_cast<int64_t>(fields[20 - 4]);
  out.start_ticks = fields[22 - 4];
  return true;
}

/// Replaces the NULs between the arguments in `buf[0..n)` by spaces, drops
/// the trailing ones and NUL-terminates; returns the new length.
size_t join_args(std::string& buf, size_t n) {
  while (n > 0 && buf[n - 1] == '\0')
    --n;
  std::replace(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(n), '\0', ' ');
  if (buf.size() <= n)
    buf.resize(n + 1);
  buf[n] = '\0';
  return n;
}

const std::string deleted_suffix = " (deleted)";

struct scan_context {
  int dirfd = -1;
  proc_fd_cache* cache = nullptr;
  std::string stat_buf;
  std::string comm_buf;
  std::string comm;
  std::string cmd_buf;
  size_t cmd_len = 0;
  std::string exe;
  std::vector<size_t> hits;
  char rel[32];
};

void set_rel(scan_context& ctx, pid_t pid, const char* file) {
  std::snprintf(ctx.rel, sizeof(ctx.rel), "%d/%s", static_cast<int>(pid), file);
}

/// Reads /proc/<pid>/<file>, through the cache if there is one.
ssize_t read_proc(scan_context& ctx, pid_t pid, proc_fd_cache::file f,
  std::string& buf, size_t cap) {
  if (ctx.cache != nullptr)
    return ctx.cache->read(ctx.dirfd, pid, f, buf, cap);
  static constexpr const char* names[] = {"comm", "cmdline", "stat"};
  set_rel(ctx, pid, names[f]);
  return read_at(ctx.dirfd, ctx.rel, buf, cap);
}

bool read_cmdline(scan_context& ctx, pid_t pid) {
  auto n = read_proc(
    ctx, pid, proc_fd_cache::cmdline, ctx.cmd_buf, max_cmdline_bytes);
  if (n < 0)
    return false;
  ctx.cmd_len = join_args(ctx.cmd_buf, static_cast<size_t>(n));
  return true;
}

/// Matches one pid against every rule; appends to `out` on a match.
void scan_one(
  scan_context& ctx, const rule_set& rules, pid_t pid, scan_result& out) {
  ctx.hits.clear();
  bool have_cmd = false;
  if (!rules.by_comm().empty()) {
    auto n = read_proc(ctx, pid, proc_fd_cache::comm, ctx.comm_buf, 64);
    if (n < 0)
      return; // vanished
    auto len = static_cast<size_t>(n);
    if (len > 0 && ctx.comm_buf[len - 1] == '\n')
      --len;
    ctx.comm.assign(ctx.comm_buf.data(), len); // no allocation: <= 15 bytes
    if (auto i = rules.by_comm().find(ctx.comm); i != rules.by_comm().end())
      ctx.hits.insert(ctx.hits.end(), i->second.begin(), i->second.end());
  }
  if (!rules.by_exe().empty()) {
    set_rel(ctx, pid, "exe");
    char buf[4096];
    auto n = ::readlinkat(ctx.dirfd, ctx.rel, buf, sizeof(buf));
    // Unreadable (another user's process, a kernel thread): no exe match.
    if (n > 0 && static_cast<size_t>(n) < sizeof(buf)) {
      ctx.exe.assign(buf, static_cast<size_t>(n));
      // A binary replaced on disk (an upgrade) still names its old path.
      if (ctx.exe.size() > deleted_suffix.size()
        && ctx.exe.compare(ctx.exe.size() - deleted_suffix.size(),
             deleted_suffix.size(), deleted_suffix)
          == 0)
        ctx.exe.resize(ctx.exe.size() - deleted_suffix.size());
      if (auto i = rules.by_exe().find(ctx.exe); i != rules.by_exe().end())
        ctx.hits.insert(ctx.hits.end(), i->second.begin(), i->second.end());
    }
  }
  if (!rules.cmdline_rules().empty()) {
    if (!read_cmdline(ctx, pid))
      return; // vanished
    have_cmd = true;
    // Kernel threads and zombies have an empty command line.
    if (ctx.cmd_len > 0)
      rules.match_cmdline(
        std::string_view{ctx.cmd_buf.data(), ctx.cmd_len}, ctx.hits);
  }
  if (ctx.hits.empty())
    return;
  // A candidate: check liveness and identity.
  auto n = read_proc(ctx, pid, proc_fd_cache::stat, ctx.stat_buf, 4096);
  if (n < 0)
    return;
  proc_ident ident;
  if (!parse_stat(
        std::string_view{ctx.stat_buf.data(), static_cast<size_t>(n)}, ident)
    || !counts_as_running(ident))
    return;
  if (!have_cmd && !read_cmdline(ctx, pid))
    return;
  proc_entry entry;
  entry.id = proc_id{static_cast<int32_t>(pid), ident.start_ticks};
  entry.started = ticks_to_time(ident.start_ticks);
  entry.cmdline = display_cmdline({ctx.cmd_buf.data(), ctx.cmd_len});
  std::sort(ctx.hits.begin(), ctx.hits.end());
  ctx.hits.erase(std::unique(ctx.hits.begin(), ctx.hits.end()), ctx.hits.end());
  for (auto idx : ctx.hits)
    out.services[idx].procs.push_back(entry);
}

} // namespace

bool read_proc_ident(pid_t pid, proc_ident& out) {
  char rel[32];
  std::snprintf(rel, sizeof(rel), "/proc/%d/stat", static_cast<int>(pid));
  std::string buf;
  auto n = read_at(AT_FDCWD, rel, buf, 4096);
  return n > 0
    && parse_stat(std::string_view{buf.data(), static_cast<size_t>(n)}, out);
}

bool counts_as_running(const proc_ident& x) noexcept {
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

proc_fd_cache::proc_fd_cache(size_t capacity) : capacity_(capacity) {
  // nop
}

size_t proc_fd_cache::default_capacity() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
    return 256;
  return std::min<size_t>(16384, static_cast<size_t>(lim.rlim_cur) / 4);
}

ssize_t proc_fd_cache::read(
  int proc_dirfd, pid_t pid, file f, std::string& buf, size_t cap) {
  static constexpr const char* names[] = {"comm", "cmdline", "stat"};
  char rel[32];
  std::snprintf(rel, sizeof(rel), "%d/%s", static_cast<int>(pid), names[f]);
  auto& e = map_[pid];
  e.pass = pass_;
  auto& fd = e.fds[f];
  if (fd) {
    auto n = pread_all(fd.get(), buf, cap);
    if (n >= 0)
      return n;
    // ESRCH: the process it was opened for is gone; the pid may have a new
    // owner, so open again.
    fd.reset();
    --open_;
  }
  if (open_ >= capacity_)
    return read_at(proc_dirfd, rel, buf, cap);
  int raw = ::openat(proc_dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (raw < 0)
    return -1;
  fd.reset(raw);
  ++open_;
  return pread_all(fd.get(), buf, cap);
}

void proc_fd_cache::end_pass() {
  for (auto i = map_.begin(); i != map_.end();) {
    if (i->second.pass != pass_) {
      for (auto& fd : i->second.fds)
        if (fd)
          --open_;
      i = map_.erase(i);
    } else {
      ++i;
    }
  }
  ++pass_;
}

scan_result scan_pids(
  const rule_set& rules, const std::vector<pid_t>& pids, proc_fd_cache* cache) {
  auto t0 = std::chrono::steady_clock::now();
  scan_result result;
  result.started = caf::make_timestamp();
  result.services.reserve(rules.size());
  for (auto& r : rules.rules())
    result.services.push_back(service_procs{r.rule.name, r.id, {}});
  if (rules.empty())
    return result;
  scan_context ctx;
  ctx.cache = cache;
  ctx.dirfd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (ctx.dirfd < 0)
    return result;
  for (auto pid : pids) {
    scan_one(ctx, rules, pid, result);
    ++result.scanned;
  }
  ::close(ctx.dirfd);
  if (cache != nullptr)
    cache->end_pass();
  for (auto& s : result.services)
    std::sort(s.procs.begin(), s.procs.end(),
      [](const proc_entry& x, const proc_entry& y) { return x.id < y.id; });
  result.duration_us = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - t0)
      .count());
  return result;
}

scan_result scan_procs(const rule_set& rules, proc_fd_cache* cache) {
  if (rules.empty())
    return scan_pids(rules, {}, cache);
  return scan_pids(rules, list_pids(), cache);
}

std::string display_cmdline(std::string_view cmdline, size_t max_bytes) {
  std::string_view in{cmdline};
  if (in.size() > max_bytes)
    in = in.substr(0, max_bytes);
  if (valid_utf8(in))
    return std::string{in};
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    auto c = static_cast<unsigned char>(in[i]);
    size_t len = c < 0x80  ? 1
      : (c & 0xE0) == 0xC0 ? 2
      : (c & 0xF0) == 0xE0 ? 3
      : (c & 0xF8) == 0xF0 ? 4
                           : 0;
    if (len != 0 && i + len <= in.size() && valid_utf8(in.substr(i, len))) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

service_record record_of(
  const std::string& name, const std::vector<proc_entry>& procs) {
  service_record rec;
  rec.name = name;
  rec.running = !procs.empty();
  const proc_entry* first = nullptr;
  for (auto& p : procs) {
    rec.pids.push_back(p.id.pid);
    if (first == nullptr || p.id.pid < first->id.pid)
      first = &p;
    if (rec.since.time_since_epoch().count() == 0 || p.started < rec.since)
      rec.since = p.started;
  }
  std::sort(rec.pids.begin(), rec.pids.end());
  if (first != nullptr)
    rec.cmdline = first->cmdline;
  return rec;
}

} // namespace labrt

// -- labrt/ps.hpp
// ---------------------------------------------------------------

namespace labrt {

caf::expected<std::vector<service_record>> scan_services(
  const std::vector<service_rule>& rules) {
  rule_set set;
  for (auto& rule : rules)
    if (auto err = set.add(rule))
      return err;
  if (set.size() != rules.size())
    return make_error(errc::invalid_argument, "duplicate service names");
  auto scan = scan_procs(set);
  std::vector<service_record> result;
  for (auto& s : scan.services) {
    result.push_back(record_of(s.name, s.procs));
    result.back().last_change = scan.started;
  }
  return result;
}

} // namespace labrt
