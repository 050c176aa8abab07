// The scanner's periodic passes shared out among threads. Plain C++, no
// actors (Linux only).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "src/proc_cache.hpp"
#include "src/proc_scan.hpp"

namespace labrt {

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

} // namespace labrt
