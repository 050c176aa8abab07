#include "src/proc_cache.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "src/proc_stat.hpp"

namespace labrt {

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
  proc_stat ident;
  if (n < 0
    || !parse_proc_stat({stat_buf_.data(), static_cast<size_t>(n)}, ident))
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
  // A cache given no process this pass (a scan_pool thread while passes
  // are too small to split) keeps no fd either, not even /proc's.
  if (map_.empty())
    proc_.reset();
  cur_ = nullptr;
  ++pass_;
}

} // namespace labrt
