// What /proc tells about one process, and the pids it lists: the primitives
// of the scanner and the exit watcher. Plain C++, no actors (Linux only).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/timestamp.hpp>

namespace labrt {

/// PF_KTHREAD in the flags of /proc/<pid>/stat.
inline constexpr uint32_t pf_kthread = 0x00200000;

/// What /proc/<pid>/stat says about a process.
struct proc_stat {
  char state = '?';         ///< 'R', 'S', 'Z', 'X', ...
  pid_t ppid = 0;           ///< Field 4.
  pid_t pgrp = 0;           ///< Field 5.
  pid_t session = 0;        ///< Field 6.
  uint32_t flags = 0;       ///< Field 9 (PF_KTHREAD = 0x00200000).
  int64_t threads = 0;      ///< Field 20.
  uint64_t start_ticks = 0; ///< Field 22: clock ticks after boot.
  std::string comm;         ///< Field 2 without the parentheses.
};

/// Parses the text of /proc/<pid>/stat.
bool parse_proc_stat(std::string_view text, proc_stat& out);

/// Reads /proc/<pid>/stat. False if the process is gone or unreadable.
bool read_proc_stat(pid_t pid, proc_stat& out);

/// Whether a process counts as running: no kernel thread, no zombie (a
/// zombie leader whose other threads still run does count), not dead.
bool counts_as_running(const proc_stat& x) noexcept;

/// A decimal pid as /proc names it; 0 if `s` is not one.
pid_t parse_pid(std::string_view s) noexcept;

/// The pids listed in /proc now (thread-group leaders), ascending.
std::vector<pid_t> list_pids();

/// Wall-clock time of a start time in clock ticks after boot.
caf::timestamp ticks_to_time(uint64_t start_ticks);

/// Reads `rel` under the directory `dirfd` into `buf[0..n)`, at most `cap`
/// bytes; -1 on error.
ssize_t read_at(int dirfd, const char* rel, std::string& buf, size_t cap);

/// preads `fd` from offset 0 into `buf[0..n)`, at most `cap` bytes; -1 on
/// error.
ssize_t pread_all(int fd, std::string& buf, size_t cap);

} // namespace labrt
