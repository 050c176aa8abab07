// The HTTP server's task queue: httplib serves a connection on one thread
// for as long as it stays open, so the pool must be able to grow to the
// configured limit; but glibc keeps a cache of freed blocks per thread, and
// a fixed pool of that size keeps every cache filled long after a burst.
// Here a few threads stay and the rest end with their connection, and once
// the server goes quiet what the burst freed is handed back.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <thread>

namespace labrt::http {

/// `core` threads that stay; beyond them, up to `max` in all, a thread per
/// task that ends with it. Only the server's listening thread calls its
/// methods; the threads report back through atomics, so it holds no lock.
class worker_pool final : public httplib::TaskQueue {
public:
  /// `on_quiet` runs on the listening thread at the first idle call after
  /// tasks came (e.g. `malloc_trim`).
  worker_pool(size_t core, size_t max, std::function<void()> on_quiet = {});
  ~worker_pool() override;

  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  /// Runs `fn` on a free core thread, else on a thread of its own while
  /// under `max`, else queued for the next free core thread.
  void enqueue(std::function<void()> fn) override;

  /// Waits for every task, queued ones included.
  void shutdown() override;

  /// Joins the extra threads that have ended and, if tasks came since the
  /// last time, runs `on_quiet` (the server calls this when no connection
  /// comes for a while).
  void on_idle() override;

  /// Threads beyond the core, running or ended but not yet joined.
  size_t extra_threads() const noexcept {
    return extras_.size();
  }

private:
  void join_ended();

  struct extra {
    std::function<void()> task;
    std::atomic<bool> done{false};
    std::thread thread;
  };

  httplib::ThreadPool core_;
  size_t core_size_;
  size_t max_extras_;
  /// Tasks handed to the core and not finished, queued ones included.
  std::atomic<size_t> core_tasks_{0};
  std::list<extra> extras_;
  std::function<void()> on_quiet_;
  bool busy_since_quiet_ = false;
  bool shut_down_ = false;
};

} // namespace labrt::http
