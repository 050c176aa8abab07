#include "core.hpp"

#include <pthread.h>

#include <thread>

#include "labrt/errc.hpp"

namespace labrt_python {

namespace {

std::atomic<unsigned> generation{0};

void after_fork_in_child() {
  ++generation;
}

// pthread_atfork, not os.register_at_fork: it sees every fork(), also one
// made by C code.
[[maybe_unused]] const int registered = pthread_atfork(nullptr, nullptr, after_fork_in_child);

} // namespace

unsigned fork_generation() {
  return generation.load();
}

void hold_if_finalizing() {
  while (python_finalizing())
    std::this_thread::sleep_for(std::chrono::hours{1});
}

void raise(const caf::error& err) {
  failure f;
  f.code = static_cast<int>(labrt::code_of(err));
  f.message = f.code != 0 ? labrt::message_of(err) : labrt::render(err);
  f.revision = labrt::conflict_revision(err);
  throw f;
}

core::core(std::unique_ptr<labrt::runtime> rt, std::chrono::milliseconds timeout)
  : rt_(std::move(rt)), timeout_(timeout), generation_(fork_generation()) {
}

std::shared_ptr<core> core::make(labrt::runtime_config cfg,
                                 std::chrono::milliseconds timeout) {
  auto rt = [&] {
    py::gil_scoped_release nogil;
    return labrt::runtime::make(std::move(cfg));
  }();
  if (!rt)
    raise(rt.error());
  return std::shared_ptr<core>{new core(std::move(*rt), timeout)};
}

core::~core() {
  if (forked()) {
    // Nothing of the parent's runtime may run here: see leak_if_forked.
    (void) rt_.release();
    for (auto& p : pool_)
      (void) p.release();
    return;
  }
  close();
  pool_.clear();
  py::gil_scoped_release nogil;
  rt_.reset(); // Waits for the actor system's threads.
}

void core::check() const {
  if (forked()) {
    failure f;
    f.code = static_cast<int>(labrt::errc::shutting_down);
    f.message = "this labrt object belongs to the runtime of the process "
                "that forked; after fork() make new objects in the child";
    f.forked = true;
    throw f;
  }
  if (closing_) {
    failure f;
    f.code = static_cast<int>(labrt::errc::shutting_down);
    f.message = "the runtime has shut down";
    throw f;
  }
}

std::unique_ptr<core::pooled> core::take() {
  if (!pool_.empty()) {
    auto result = std::move(pool_.back());
    pool_.pop_back();
    return result;
  }
  auto result = std::make_unique<pooled>();
  // The hook runs on the calling thread while its GIL is released.
  result->cl = std::make_unique<labrt::client>(*rt_, timeout_);
  result->cl->wait_in_slices(wait_slice, [p = result.get(), this] {
    if (closing_)
      return false;
    hold_if_finalizing();
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() == 0)
      return true;
    p->interrupted = true;
    ++interrupted_waits;
    return false;
  });
  return result;
}

void core::close() {
  if (closing_ || forked())
    return;
  // Feeds and callbacks first: a callback may be waiting for the GIL, and
  // a stopped manager would leave an iterator waiting for nothing.
  auto tracked = std::move(tracked_);
  for (auto& weak : tracked)
    if (auto x = weak.lock())
      x->close();
  closing_ = true;
  // Calls under way notice within a slice; they need the GIL to return.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{2};
  while (in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
    py::gil_scoped_release nogil;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  py::gil_scoped_release nogil;
  rt_->shutdown();
}

} // namespace labrt_python
