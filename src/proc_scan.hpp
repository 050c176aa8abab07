// One pass over /proc for every service rule at once. Plain C++, no actors
// (Linux only).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
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

/// Open /proc/<pid>/{comm,cmdline,stat} files kept across passes: a pread
/// at offset 0 regenerates them, one syscall instead of open, read, close
/// (about 3.5x cheaper per process). Safe under PID reuse: a file opened for
/// a process that has died reads ESRCH even when its pid has a new owner, and
/// is then reopened. Holds at most `capacity` descriptors (default: a quarter
/// of RLIMIT_NOFILE, at most 16384); past that, files are opened per read.
class proc_fd_cache {
public:
  enum file : size_t { comm, cmdline, stat };

  explicit proc_fd_cache(size_t capacity = default_capacity());

  /// A quarter of the soft RLIMIT_NOFILE, at most 16384.
  static size_t default_capacity();

  /// Reads /proc/<pid>/<file> into `buf` (at most `cap` bytes); -1 if the
  /// process is gone or the file unreadable.
  ssize_t read(int proc_dirfd, pid_t pid, file f, std::string& buf, size_t cap);

  /// Closes the files of pids not read since the last call.
  void end_pass();

  size_t open_fds() const noexcept {
    return open_;
  }

private:
  struct entry {
    std::array<unique_fd, 3> fds;
    uint64_t pass = 0;
  };
  std::unordered_map<pid_t, entry> map_;
  size_t capacity_;
  size_t open_ = 0;
  uint64_t pass_ = 1;
};

/// One pass over `pids` for every rule. Reads per pid only what the rules
/// need (comm for comm rules, exe for exe rules, cmdline for cmdline rules),
/// then stat and cmdline for candidates only. Never fails: pids that vanish
/// mid-scan or cannot be read are skipped; kernel threads and zombies never
/// match. The result has one entry per rule, in rule order.
/// With a `cache`, reuses its open files (the scanner's periodic passes).
scan_result scan_pids(const rule_set& rules, const std::vector<pid_t>& pids,
  proc_fd_cache* cache = nullptr);

/// scan_pids over list_pids(). With no rules, does not touch /proc.
scan_result scan_procs(const rule_set& rules, proc_fd_cache* cache = nullptr);

/// Turns the (space-joined) arguments into what a record shows: valid UTF-8
/// (bad bytes become '?'), at most `max_bytes`.
std::string display_cmdline(std::string_view cmdline, size_t max_bytes = 4096);

/// The record a set of matching processes implies: running if any, every
/// pid ascending, the cmdline of the lowest pid, since = the oldest start
/// (zero when not running: the caller knows when it stopped).
service_record record_of(
  const std::string& name, const std::vector<proc_entry>& procs);

} // namespace labrt
