#include "src/http/worker_pool.hpp"

#include <system_error>
#include <utility>

namespace labrt::http {

worker_pool::worker_pool(
  size_t core, size_t max, std::function<void()> on_quiet)
  : core_(core), core_size_(core), max_extras_(max > core ? max - core : 0),
    on_quiet_(std::move(on_quiet)) {}

worker_pool::~worker_pool() {
  shutdown();
}

void worker_pool::enqueue(std::function<void()> fn) {
  join_ended();
  busy_since_quiet_ = true;
  if (core_tasks_.load() >= core_size_ && extras_.size() < max_extras_) {
    auto& e = extras_.emplace_back();
    e.task = std::move(fn);
    try {
      e.thread = std::thread{[&e] {
        e.task();
        e.task = nullptr; // Closes what the task holds before the join.
        e.done.store(true, std::memory_order_release);
      }};
      return;
    } catch (const std::system_error&) {
      // No thread to be had: the task waits for a core one instead.
      fn = std::move(e.task);
      extras_.pop_back();
    }
  }
  ++core_tasks_;
  core_.enqueue([this, fn = std::move(fn)] {
    fn();
    --core_tasks_;
  });
}

void worker_pool::on_idle() {
  join_ended();
  if (std::exchange(busy_since_quiet_, false) && on_quiet_)
    on_quiet_();
}

void worker_pool::join_ended() {
  for (auto i = extras_.begin(); i != extras_.end();) {
    if (i->done.load(std::memory_order_acquire)) {
      i->thread.join();
      i = extras_.erase(i);
    } else {
      ++i;
    }
  }
}

void worker_pool::shutdown() {
  if (std::exchange(shut_down_, true))
    return;
  core_.shutdown();
  for (auto& e : extras_)
    e.thread.join();
  extras_.clear();
}

} // namespace labrt::http
