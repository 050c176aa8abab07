// The runtime behind the Python objects: one labrt::runtime, a pool of
// clients, how a call waits (GIL released, Ctrl-C honoured) and how errors
// become Python exceptions.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pybind11/pybind11.h>
// In every file: a caster seen by some files only breaks the others (ODR).
#include <pybind11/stl.h>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "labrt/client.hpp"
#include "labrt/config.hpp"
#include "labrt/runtime.hpp"

namespace labrt_python {

namespace py = pybind11;

/// How often a waiting call looks for Ctrl-C (and for a runtime closing).
inline constexpr std::chrono::milliseconds wait_slice{50};

/// Counts fork()s in this process's history: a runtime made in an earlier
/// generation has no threads here.
unsigned fork_generation();

/// Waits that Ctrl-C ended (the tests check that path was taken).
inline uint64_t interrupted_waits = 0;

/// Subscription callbacks whose thread may still take the GIL (their last
/// one included, which drops the Python callable). Interpreter exit waits
/// for none to be left: taking the GIL once Python is finalizing ends the
/// thread with pthread_exit, and its unwinding through C++ aborts.
inline std::atomic<int> live_callbacks{0};

/// Whether Python is tearing itself down (public API from 3.13 on).
inline bool python_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

/// Blocks a thread without the GIL for good once Python is finalizing: taking
/// the GIL then ends the thread with pthread_exit, whose unwinding through
/// C++ frames aborts the process. The process is exiting anyway.
void hold_if_finalizing();

/// A labrt error on its way to Python (labrt._errors makes the exception).
struct failure {
  int code = 0; ///< labrt::errc, 0 for an error of CAF's.
  std::string message;
  uint64_t revision = 0; ///< The current revision of a conflict.
  bool forked = false;   ///< A runtime of the parent, used after fork().
};

[[noreturn]] void raise(const caf::error& err);

/// Something a runtime must stop before it shuts down (feeds and callbacks).
class closable {
public:
  virtual ~closable() = default;
  /// With the GIL held.
  virtual void close() = 0;
};

/// One embedded runtime. Every Python object of it holds a shared_ptr, so
/// the runtime lives until the last of them is gone. Members are used with
/// the GIL held, which is what serialises them.
class core {
public:
  static std::shared_ptr<core> make(labrt::runtime_config cfg,
                                    std::chrono::milliseconds timeout);
  ~core();

  core(const core&) = delete;
  core& operator=(const core&) = delete;

  /// Raises labrt.ForkError in a child after fork(), ShuttingDownError
  /// once closed.
  void check() const;

  bool forked() const noexcept {
    return generation_ != fork_generation();
  }

  bool closing() const noexcept {
    return closing_.load();
  }

  labrt::runtime& rt() {
    check();
    return *rt_;
  }

  /// The actor system, also once closed (it lives as long as this).
  caf::actor_system& system() noexcept {
    return rt_->system();
  }

  /// Runs `f(client&)` with the GIL released; returns its value or raises.
  /// Ctrl-C while it waits raises KeyboardInterrupt.
  template <class F>
  auto call(F&& f) {
    check();
    auto c = take();
    ++in_flight;
    auto result = [&] {
      py::gil_scoped_release nogil;
      auto r = f(*c->cl);
      hold_if_finalizing();
      return r;
    }();
    --in_flight;
    if (c->interrupted)
      // Dropped, not pooled: the abandoned answer may still reach it.
      throw py::error_already_set();
    if (closing_)
      check();
    pool_.push_back(std::move(c));
    if (!result)
      raise(result.error());
    return std::move(*result);
  }

  /// Stops what must be stopped first, then the runtime's actors.
  /// Idempotent; the objects of this runtime raise afterwards.
  void close();

  /// Called by the Python objects that close() must close.
  void track(std::weak_ptr<closable> x) {
    if (tracked_.size() % 64 == 63)
      tracked_.erase(std::remove_if(tracked_.begin(), tracked_.end(),
                                    [](auto& weak) { return weak.expired(); }),
                     tracked_.end());
    tracked_.push_back(std::move(x));
  }

  std::chrono::milliseconds timeout() const noexcept {
    return timeout_;
  }

  /// Calls and waits under way, which close() lets end first.
  int in_flight = 0;


private:
  struct pooled {
    std::unique_ptr<labrt::client> cl;
    bool interrupted = false;
  };

  explicit core(std::unique_ptr<labrt::runtime> rt,
                std::chrono::milliseconds timeout);

  std::unique_ptr<pooled> take();

  std::unique_ptr<labrt::runtime> rt_;
  std::chrono::milliseconds timeout_;
  unsigned generation_;
  std::atomic<bool> closing_{false};
  std::vector<std::unique_ptr<pooled>> pool_;
  std::vector<std::weak_ptr<closable>> tracked_;
};

/// Waits with the GIL released until `done()`, `deadline` or Ctrl-C,
/// running `step(slice)` (a bounded receive) between checks. Returns false
/// on Ctrl-C, with the KeyboardInterrupt pending.
template <class Step>
bool wait_released(core& c, std::chrono::steady_clock::time_point deadline,
                   Step&& step) {
  bool interrupted = false;
  ++c.in_flight;
  {
    py::gil_scoped_release nogil;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (step(std::max(std::min(left, wait_slice), std::chrono::milliseconds{0})))
        break;
      if (left <= wait_slice || c.closing())
        break;
      hold_if_finalizing();
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) {
        interrupted = true;
        ++interrupted_waits;
        break;
      }
    }
    hold_if_finalizing();
  }
  --c.in_flight;
  return !interrupted;
}

/// After fork() the child must not destroy what belongs to the parent's
/// runtime (its threads are gone, a cleanup would wait for them): the
/// destructors of the Python objects leak it there instead.
template <class... Ts>
void leak_if_forked(std::shared_ptr<core>& owner, Ts&... xs) {
  if (owner && owner->forked()) {
    (new Ts(std::move(xs)), ...);
    new std::shared_ptr<core>(std::move(owner));
  }
}

} // namespace labrt_python
