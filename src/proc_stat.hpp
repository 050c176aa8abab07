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

/// What /proc/<pid>/stat tells about a process's identity and liveness.
struct proc_ident {
  char state = '?';         ///< 'R', 'S', 'Z', 'X', ...
  uint32_t flags = 0;       ///< Field 9 (PF_KTHREAD = 0x00200000).
  int64_t threads = 0;      ///< Field 20.
  uint64_t start_ticks = 0; ///< Field 22.
  std::string comm;         ///< Field 2 without the parentheses.
};

/// Parses the text of /proc/<pid>/stat.
bool parse_stat(std::string_view text, proc_ident& out);

/// Reads /proc/<pid>/stat. False if the process is gone or unreadable.
bool read_proc_ident(pid_t pid, proc_ident& out);

/// Whether a process counts as running: no kernel thread, no zombie (a
/// zombie leader whose other threads still run does count), not dead.
bool counts_as_running(const proc_ident& x) noexcept;

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
