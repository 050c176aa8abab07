// Watching many processes for their exit through pidfds, woken by an
// eventfd. Plain C++, no actors (Linux only). The owner calls poll() on a
// thread that may block (a detached actor).
#pragma once

#include <map>
#include <vector>

#include "src/event_fd.hpp"
#include "labrt/monitor_types.hpp"
#include "src/process.hpp"

namespace labrt {

/// The pidfds of the watched processes, keyed by pid + start time.
class pidfd_set {
public:
  /// Starts watching `ids`. Returns those already gone: pidfd_open failed,
  /// or the pid now names another process (start time differs), a zombie or
  /// nothing readable. Watching an id twice is a no-op.
  std::vector<proc_id> watch(const std::vector<proc_id>& ids);

  /// Stops watching `ids` (unknown ones are ignored).
  void unwatch(const std::vector<proc_id>& ids);

  /// Blocks until a watched process exits, `wake` is notified, or
  /// `timeout_ms` passes (-1 = no timeout). Returns the ids that exited
  /// (no longer watched); drains `wake`.
  std::vector<proc_id> poll(const event_fd& wake, int timeout_ms = -1);

  size_t size() const noexcept {
    return fds_.size();
  }

  /// Watches that could not be set up (e.g. out of file descriptors); such
  /// processes are still seen ending by the next scan.
  uint64_t failed = 0;

private:
  std::map<proc_id, unique_fd> fds_;
};

} // namespace labrt
