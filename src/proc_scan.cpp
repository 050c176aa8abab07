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
#include <exception>
#include <string_view>
#include <system_error>
#include <thread>

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
  proc_cache* files = nullptr;
  std::string stat_buf;
  std::string comm_buf;
  std::string comm;
  std::string cmd_buf;
  size_t cmd_len = 0;
  std::string exe;
  std::vector<size_t> hits;
};

bool read_cmdline(scan_context& ctx) {
  auto n = ctx.files->read(proc_cache::cmdline, ctx.cmd_buf, max_cmdline_bytes);
  if (n < 0)
    return false;
  ctx.cmd_len = join_args(ctx.cmd_buf, static_cast<size_t>(n));
  return true;
}

/// Matches one pid against every rule; appends to `out` on a match.
void scan_one(
  scan_context& ctx, const rule_set& rules, pid_t pid, scan_result& out) {
  ctx.hits.clear();
  if (!ctx.files->begin(pid))
    return;
  bool have_cmd = false;
  if (!rules.by_comm().empty()) {
    auto n = ctx.files->read(proc_cache::comm, ctx.comm_buf, 64);
    if (n < 0)
      return; // vanished
    auto len = static_cast<size_t>(n);
    if (len > 0 && ctx.comm_buf[len - 1] == '\n')
      --len;
    ctx.comm.assign(ctx.comm_buf.data(), len); // no allocation: <= 15 bytes
    if (auto i = rules.by_comm().find(ctx.comm); i != rules.by_comm().end())
      ctx.hits.insert(ctx.hits.end(), i->second.begin(), i->second.end());
  }
  // Unreadable (another user's process, a kernel thread): no exe match.
  if (!rules.by_exe().empty() && ctx.files->exe(ctx.exe)) {
    // A binary replaced on disk (an upgrade) still names its old path.
    if (ctx.exe.size() > deleted_suffix.size()
      && ctx.exe.compare(ctx.exe.size() - deleted_suffix.size(),
           deleted_suffix.size(), deleted_suffix)
        == 0)
      ctx.exe.resize(ctx.exe.size() - deleted_suffix.size());
    if (auto i = rules.by_exe().find(ctx.exe); i != rules.by_exe().end())
      ctx.hits.insert(ctx.hits.end(), i->second.begin(), i->second.end());
  }
  if (!rules.cmdline_rules().empty()) {
    if (!read_cmdline(ctx))
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
  auto n = ctx.files->read(proc_cache::stat, ctx.stat_buf, 4096);
  if (n < 0)
    return;
  proc_ident ident;
  if (!parse_stat(
        std::string_view{ctx.stat_buf.data(), static_cast<size_t>(n)}, ident)
    || !counts_as_running(ident))
    return;
  if (!have_cmd && !read_cmdline(ctx))
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

// -- proc_cache ---------------------------------------------------------------
//
// Why a cached exe path is sound: the exe link names mm->exe_file, a
// property of the address space, which only execve replaces (with a new
// address space; PR_SET_MM_EXE_FILE, privileged and used by checkpoint/
// restore tools, is the one other way). /proc/<pid>/pagemap pins the address
// space it was opened for, on purpose (so that an fd opened before a setuid
// exec cannot read the new image), and reads 0 bytes once that one is gone.
// So while an 8-byte read of it succeeds, the process has not exec'd and its
// exe is the one read after the probe was opened (in that order: an exec in
// between leaves a dead probe, so a miss next pass, never a stale path).
// Not cached: a process that has not exec'd since fork (PF_FORKNOEXEC),
// because after vfork or CLONE_VM it shares its parent's address space and
// the probe would outlive its own exec; flags are read before the probe is
// opened, and once clear they stay clear. Renaming or deleting the binary
// changes the link text, not the file: the path at first sight is kept
// (deletion was stripped before anyway). comm and cmdline are read every
// pass: prctl(PR_SET_NAME) and setproctitle() change them without an exec.

namespace {

/// PF_FORKNOEXEC: forked and not exec'd since.
constexpr uint32_t pf_forknoexec = 0x00000040;

constexpr const char* file_names[] = {"comm", "cmdline", "stat", "pagemap"};

bool gone(int err) {
  return err == ESRCH || err == ENOENT;
}

} // namespace

proc_cache::proc_cache(size_t capacity) : capacity_(capacity) {
  // nop
}

proc_cache::~proc_cache() = default;

size_t proc_cache::default_capacity() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
    return 256;
  return std::min<size_t>(16384, static_cast<size_t>(lim.rlim_cur) / 4);
}

bool proc_cache::begin(pid_t pid) {
  if (!proc_) {
    proc_.reset(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!proc_)
      return false;
  }
  pid_ = pid;
  if (capacity_ == 0) {
    // A one-off pass: nothing to keep per process.
    cur_ = &one_off_;
    return true;
  }
  cur_ = &map_[pid];
  cur_->pass = pass_;
  if (!cur_->dir && open_ < capacity_) {
    char rel[16];
    std::snprintf(rel, sizeof(rel), "%d", static_cast<int>(pid));
    cur_->dir.reset(
      ::openat(proc_.get(), rel, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (cur_->dir)
      ++open_;
  }
  return true;
}

int proc_cache::open_in(entry& e, const char* name) {
  if (!e.dir || open_ >= capacity_)
    return -1;
  int fd = ::openat(e.dir.get(), name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0)
    ++open_;
  return fd;
}

void proc_cache::close_fd(unique_fd& fd) {
  if (fd) {
    fd.reset();
    --open_;
  }
}

void proc_cache::reset(entry& e) {
  close_fd(e.dir);
  for (auto& fd : e.fds)
    close_fd(fd);
  auto pass = e.pass;
  e = entry{};
  e.pass = pass;
}

ssize_t proc_cache::read(file f, std::string& buf, size_t cap) {
  auto& e = *cur_;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!e.dir) {
      // Over capacity: by path, as a one-off scan does.
      char rel[32];
      std::snprintf(
        rel, sizeof(rel), "%d/%s", static_cast<int>(pid_), file_names[f]);
      return read_at(proc_.get(), rel, buf, cap);
    }
    auto& fd = e.fds[f];
    if (!fd)
      fd.reset(open_in(e, file_names[f]));
    ssize_t n = -1;
    if (fd) {
      n = pread_all(fd.get(), buf, cap);
    } else if (open_ >= capacity_) {
      n = read_at(e.dir.get(), file_names[f], buf, cap); // still bound
    }
    if (n >= 0) {
      e.live_pass = pass_;
      return n;
    }
    // The process this entry was opened for is gone. If it read fine
    // earlier in this pass it vanished mid-scan; if not, its pid may have
    // a new owner: start over once.
    if (!gone(errno) || e.live_pass == pass_)
      return -1;
    reset(e);
    begin(pid_);
  }
  return -1;
}

bool proc_cache::read_exe_link(std::string& out) {
  ++exe_reads_;
  char buf[4096];
  ssize_t n
    = cur_->dir ? ::readlinkat(cur_->dir.get(), "exe", buf, sizeof(buf)) : [&] {
        char rel[32];
        std::snprintf(rel, sizeof(rel), "%d/exe", static_cast<int>(pid_));
        return ::readlinkat(proc_.get(), rel, buf, sizeof(buf));
      }();
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf))
    return false;
  out.assign(buf, static_cast<size_t>(n));
  return true;
}

bool proc_cache::exe(std::string& out) {
  auto& e = *cur_;
  if (e.kthread)
    return false;
  auto& probe = e.fds[pagemap];
  char word[8];
  if (e.exe_known) {
    if (::pread(probe.get(), word, sizeof(word), 0) == sizeof(word)) {
      out = e.exe;
      return true;
    }
    e.exe_known = false; // exec'd or exited
    close_fd(probe);
  }
  if (!e.dir || e.probe_denied) {
    // Uncached; a readable link again means the probe may open now.
    auto ok = read_exe_link(out);
    e.probe_denied = e.probe_denied && !ok;
    return ok;
  }
  // Flags before the probe: see the comment above.
  bool had_stat = static_cast<bool>(e.fds[stat]);
  auto n = read(stat, stat_buf_, 4096);
  proc_ident ident;
  if (n < 0 || !parse_stat({stat_buf_.data(), static_cast<size_t>(n)}, ident))
    return false;
  if (!had_stat)
    close_fd(e.fds[stat]); // kept for candidates only
  if ((ident.flags & pf_kthread) != 0) {
    e.kthread = true; // execve from a kernel thread is refused
    return false;
  }
  bool cacheable = (ident.flags & pf_forknoexec) == 0 && ident.state != 'Z'
    && ident.state != 'X' && e.dir && open_ < capacity_;
  if (cacheable) {
    probe.reset(open_in(e, file_names[pagemap]));
    if (!probe) {
      e.probe_denied = errno == EACCES || errno == EPERM;
      cacheable = false;
    }
  }
  if (!read_exe_link(out)) {
    close_fd(probe);
    return false;
  }
  if (cacheable
    && ::pread(probe.get(), word, sizeof(word), 0) == sizeof(word)) {
    e.exe = out;
    e.exe_known = true;
  } else {
    close_fd(probe);
  }
  return true;
}

void proc_cache::end_pass() {
  for (auto i = map_.begin(); i != map_.end();) {
    if (i->second.pass != pass_) {
      reset(i->second);
      i = map_.erase(i);
    } else {
      ++i;
    }
  }
  cur_ = nullptr;
  ++pass_;
}

namespace {

/// Orders each service's processes and stamps the pass's duration.
void finish(scan_result& result, std::chrono::steady_clock::time_point t0) {
  for (auto& s : result.services)
    std::sort(s.procs.begin(), s.procs.end(),
      [](const proc_entry& x, const proc_entry& y) { return x.id < y.id; });
  result.duration_us = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - t0)
      .count());
}

} // namespace

scan_result scan_pids(
  const rule_set& rules, const std::vector<pid_t>& pids, proc_cache* cache) {
  auto t0 = std::chrono::steady_clock::now();
  scan_result result;
  result.started = caf::make_timestamp();
  result.services.reserve(rules.size());
  for (auto& r : rules.rules())
    result.services.push_back(service_procs{r.rule.name, r.id, {}});
  if (rules.empty())
    return result;
  // Without a cache: nothing kept open, every file read by path.
  proc_cache one_off{0};
  scan_context ctx;
  ctx.files = cache != nullptr ? cache : &one_off;
  for (auto pid : pids) {
    scan_one(ctx, rules, pid, result);
    ++result.scanned;
  }
  ctx.files->end_pass();
  finish(result, t0);
  return result;
}

scan_result scan_procs(const rule_set& rules, proc_cache* cache) {
  if (rules.empty())
    return scan_pids(rules, {}, cache);
  return scan_pids(rules, list_pids(), cache);
}

// -- scan_pool ----------------------------------------------------------------

scan_pool::scan_pool(size_t threads, size_t capacity, size_t min_split)
  : min_split_(min_split) {
  threads = std::max<size_t>(1, threads);
  for (size_t i = 0; i < threads; ++i)
    caches_.push_back(std::make_unique<proc_cache>(capacity / threads));
  parts_.resize(threads);
}

size_t scan_pool::default_threads() {
  return std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
}

scan_result scan_pool::scan(const rule_set& rules) {
  if (rules.empty())
    return scan_pids(rules, {}, caches_.front().get());
  return scan(rules, list_pids());
}

scan_result scan_pool::scan(
  const rule_set& rules, const std::vector<pid_t>& pids) {
  auto n = caches_.size();
  if (n == 1 || pids.size() < min_split_ || rules.empty()) {
    // A thread costs more than a small pass saves. The other caches saw
    // nothing this pass, so they let go of what they hold.
    for (size_t i = 1; i < n; ++i)
      caches_[i]->end_pass();
    return scan_pids(rules, pids, caches_.front().get());
  }
  auto t0 = std::chrono::steady_clock::now();
  // Before any part reads /proc: the monitor trusts that nothing it saw in
  // this pass happened before `started`.
  auto started = caf::make_timestamp();
  for (auto& part : parts_)
    part.clear();
  for (auto pid : pids)
    parts_[static_cast<size_t>(pid) % n].push_back(pid);
  std::vector<scan_result> results(n);
  std::vector<std::exception_ptr> errors(n);
  auto run = [&](size_t i) noexcept {
    try {
      results[i] = scan_pids(rules, parts_[i], caches_[i].get());
    } catch (...) {
      errors[i] = std::current_exception(); // bad_alloc: the caller's
    }
  };
  {
    std::vector<std::thread> helpers;
    helpers.reserve(n - 1);
    try {
      for (size_t i = 1; i < n; ++i)
        helpers.emplace_back(run, i);
    } catch (...) {
      // No thread to be had (system_error, bad_alloc): the parts without one
      // run here, and the threads already started are still joined below.
    }
    for (size_t i = helpers.size() + 1; i < n; ++i)
      run(i);
    run(0);
    for (auto& t : helpers)
      t.join();
  }
  for (auto& err : errors)
    if (err)
      std::rethrow_exception(err);
  auto result = std::move(results[0]);
  result.started = started;
  for (size_t i = 1; i < n; ++i) {
    result.scanned += results[i].scanned;
    for (size_t s = 0; s < result.services.size(); ++s) {
      auto& into = result.services[s].procs;
      auto& from = results[i].services[s].procs;
      into.insert(into.end(), from.begin(), from.end());
    }
  }
  finish(result, t0);
  return result;
}

size_t scan_pool::open_fds() const noexcept {
  size_t result = 0;
  for (auto& c : caches_)
    result += c->open_fds();
  return result;
}

uint64_t scan_pool::exe_reads() const noexcept {
  uint64_t result = 0;
  for (auto& c : caches_)
    result += c->exe_reads();
  return result;
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
  // One pass, nothing kept open, shared out among the cores.
  scan_pool pool{scan_pool::default_threads(), 0};
  auto scan = pool.scan(set);
  std::vector<service_record> result;
  for (auto& s : scan.services) {
    result.push_back(record_of(s.name, s.procs));
    result.back().last_change = scan.started;
  }
  return result;
}

} // namespace labrt
