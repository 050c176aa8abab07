// An eventfd: a counter that wakes whoever polls it. Plain C++, no actors
// (Linux only).
#pragma once

#include <cstdint>

#include "src/plain_error.hpp"
#include "src/process.hpp"

namespace labrt {

/// A non-blocking, close-on-exec eventfd, readable (POLLIN) while its
/// counter is above zero. Move-only; share one through a shared_ptr so that
/// neither side closes it while the other still polls or writes.
///
///   auto fd = event_fd::make();    // errc::system_error if none to be had
///   fd->notify();                  // adds 1: wakes a poll() on fd->get()
///   fd->add(n);                    // adds n (e.g. credits for n batches)
///   uint64_t n = fd->drain();      // the counter, reset to 0; 0 if none
///
/// notify(), add() and drain() are async-signal-safe, lock-free and never
/// block or fail (a counter at its maximum stays readable). Code that holds
/// only the descriptor number, not the event_fd, uses the static add(fd, n)
/// and drain(fd), which do the same (and nothing for fd < 0).
class event_fd {
public:
  /// None: get() is -1.
  event_fd() noexcept = default;

  static plain_expected<event_fd> make();

  /// The descriptor, to poll for POLLIN.
  int get() const noexcept {
    return fd_.get();
  }

  explicit operator bool() const noexcept {
    return static_cast<bool>(fd_);
  }

  void notify() const noexcept {
    add(get(), 1);
  }

  void add(uint64_t n) const noexcept {
    add(get(), n);
  }

  uint64_t drain() const noexcept {
    return drain(get());
  }

  static void add(int fd, uint64_t n) noexcept;

  static uint64_t drain(int fd) noexcept;

private:
  unique_fd fd_;
};

} // namespace labrt
