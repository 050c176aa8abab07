// Per-process /proc files and exe paths kept open across the scanner's
// passes. Plain C++, no actors (Linux only).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "src/process.hpp"

namespace labrt {

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

} // namespace labrt
