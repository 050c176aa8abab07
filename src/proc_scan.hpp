// One pass over /proc for every service rule at once. Plain C++, no actors
// (Linux only).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <caf/timestamp.hpp>

#include "labrt/monitor_types.hpp"
#include "labrt/types.hpp"
#include "process.hpp"
#include "service_rules.hpp"

namespace labrt {

/// What /proc/<pid>/stat tells about a process's identity and liveness.
struct proc_ident {
  char state = '?';         ///< 'R', 'S', 'Z', 'X', ...
  uint32_t flags = 0;       ///< Field 9 (PF_KTHREAD = 0x00200000).
  int64_t threads = 0;      ///< Field 20.
  uint64_t start_ticks = 0; ///< Field 22.
  std::string comm;         ///< Field 2 without the parentheses.
};

/// Reads /proc/<pid>/stat. False if the process is gone or unreadable.
bool read_proc_ident(pid_t pid, proc_ident& out);

/// Whether a process counts as running: no kernel thread, no zombie (a
/// zombie leader whose other threads still run does count), not dead.
bool counts_as_running(const proc_ident& x) noexcept;

/// The pids listed in /proc now (thread-group leaders), ascending.
std::vector<pid_t> list_pids();

/// Wall-clock time of a start time in clock ticks after boot.
caf::timestamp ticks_to_time(uint64_t start_ticks);

/// What the periodic passes keep per process: its open /proc files (a pread
/// at offset 0 regenerates them: one syscall instead of open, read, close)
/// and its executable path. Every file of an entry is opened relative to one
/// /proc/<pid> directory descriptor, so an entry belongs to one process:
/// once that process has died its files read ESRCH even when the pid has a
/// new owner, and the entry starts over. Holds at most `capacity`
/// descriptors (default: a quarter of RLIMIT_NOFILE, at most 16384); past
/// that, files are opened per read and exe links read every pass.
/// One thread at a time.
class proc_cache {
public:
  enum file : size_t { comm, cmdline, stat, pagemap, n_files };

  explicit proc_cache(size_t capacity = default_capacity());
  ~proc_cache();
  proc_cache(const proc_cache&) = delete;
  proc_cache& operator=(const proc_cache&) = delete;

  /// A quarter of the soft RLIMIT_NOFILE, at most 16384.
  static size_t default_capacity();

  /// Makes `pid` the process that read() and exe() read. False if /proc
  /// cannot be opened.
  bool begin(pid_t pid);

  /// Reads a /proc file of the current process into `buf` (at most `cap`
  /// bytes); -1 if the process is gone or the file unreadable.
  ssize_t read(file f, std::string& buf, size_t cap);

  /// The target of /proc/<pid>/exe of the current process (" (deleted)"
  /// included), read again only after the process exec'd; false if it has
  /// none or it is unreadable.
  bool exe(std::string& out);

  /// Closes the files of pids not read since the last call.
  void end_pass();

  size_t open_fds() const noexcept {
    return open_;
  }
  /// How often /proc/<pid>/exe was read (cache misses).
  uint64_t exe_reads() const noexcept {
    return exe_reads_;
  }

private:
  struct entry {
    unique_fd dir; ///< /proc/<pid>: binds the entry to one process.
    std::array<unique_fd, n_files> fds;
    std::string exe;        ///< Valid while `exe_known`.
    bool exe_known = false; ///< fds[pagemap] pins the address space.
    bool kthread = false;   ///< Never has an exe.
    bool probe_denied = false;
    uint64_t pass = 0;      ///< Last pass that began it.
    uint64_t live_pass = 0; ///< Last pass with a successful read.
  };

  int open_in(entry& e, const char* name);
  void close_fd(unique_fd& fd);
  void reset(entry& e);
  bool read_exe_link(std::string& out);

  std::unordered_map<pid_t, entry> map_;
  entry one_off_; ///< The entry of every pid at capacity 0 (never opened).
  entry* cur_ = nullptr;
  pid_t pid_ = 0;
  unique_fd proc_;
  size_t capacity_;
  size_t open_ = 0;
  uint64_t pass_ = 1;
  uint64_t exe_reads_ = 0;
  std::string stat_buf_;
};

/// One pass over `pids` for every rule. Reads per pid only what the rules
/// need (comm for comm rules, exe for exe rules, cmdline for cmdline rules),
/// then stat and cmdline for candidates only. Never fails: pids that vanish
/// mid-scan or cannot be read are skipped; kernel threads and zombies never
/// match. The result has one entry per rule, in rule order.
/// With a `cache`, reuses its open files and exe paths (the scanner's
/// periodic passes).
scan_result scan_pids(const rule_set& rules, const std::vector<pid_t>& pids,
  proc_cache* cache = nullptr);

/// scan_pids over list_pids(). With no rules, does not touch /proc.
scan_result scan_procs(const rule_set& rules, proc_cache* cache = nullptr);

/// The periodic passes of the monitor: /proc split over up to `threads`
/// threads, each with its own proc_cache. A pid always goes to the same
/// thread (pid modulo threads), so its files stay open across passes. Each
/// /proc read is a syscall of a few microseconds that no cache can skip
/// (comm, cmdline), so the wall time of a pass falls with the threads; its
/// CPU time does not. Passes of fewer than `min_split` pids stay on the
/// calling thread. One caller at a time.
class scan_pool {
public:
  explicit scan_pool(size_t threads = default_threads(),
    size_t capacity = proc_cache::default_capacity(), size_t min_split = 256);

  /// The cores, at most 4.
  static size_t default_threads();

  /// scan_pids over list_pids(), shared out among the threads.
  scan_result scan(const rule_set& rules);

  /// scan_pids over `pids`, shared out among the threads.
  scan_result scan(const rule_set& rules, const std::vector<pid_t>& pids);

  size_t threads() const noexcept {
    return caches_.size();
  }
  size_t open_fds() const noexcept;
  uint64_t exe_reads() const noexcept;

private:
  std::vector<std::unique_ptr<proc_cache>> caches_;
  std::vector<std::vector<pid_t>> parts_;
  size_t min_split_;
};

/// Turns the (space-joined) arguments into what a record shows: valid UTF-8
/// (bad bytes become '?'), at most `max_bytes`.
std::string display_cmdline(std::string_view cmdline, size_t max_bytes = 4096);

/// The record a set of matching processes implies: running if any, every
/// pid ascending, the cmdline of the lowest pid, since = the oldest start
/// (zero when not running: the caller knows when it stopped).
service_record record_of(
  const std::string& name, const std::vector<proc_entry>& procs);

} // namespace labrt
