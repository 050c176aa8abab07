// The daemon's side of a run's shim: starts the shim (or re-attaches to a
// live one) and turns its socket into the hooks a run watcher has, so the
// runner sees the same started / output / ended reports either way. Plain
// C++, no actors.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

#include <caf/expected.hpp>

#include "labrt/run_types.hpp"
#include "src/process.hpp"
#include "src/run_messages.hpp"

namespace labrt {

struct shim_hooks {
  std::function<void(run_started)> started;
  std::function<void(output_batch)> batch;
  /// The wake fd fired (already drained): may call stop() or abandon().
  std::function<void()> wake;
};

/// The shim to run: `configured` if set, else this build's, else the one
/// installed in libexec.
std::string find_shim(const std::string& configured);

/// A labrt-shim started before its run, waiting for the run's directory:
/// a start through it skips the exec and loading of the shim. Our child,
/// in its own session; one that is never used is reaped on destruction
/// (which waits for it to exit, so off the scheduler).
class spare_shim {
public:
  /// Starts `shim --spare`; `inherit_env` is what the shim passes on to the
  /// script's allowlist.
  static caf::expected<spare_shim> spawn(
    const std::string& shim, const std::vector<std::string>& inherit_env);

  spare_shim(spare_shim&&) noexcept = default;
  spare_shim& operator=(spare_shim&&) noexcept = delete;
  ~spare_shim();

private:
  spare_shim() = default;
  friend class shim_link;

  unique_fd sock_;
  unique_fd pidfd_;
  pid_t pid_ = 0;
};

class shim_link {
public:
  /// Gives `spare` the run directory `dir` (made by make_run_dir); the
  /// shim then runs that run. An error if the spare is gone.
  static caf::expected<shim_link> launch(
    spare_shim spare, const std::string& dir);

  /// Connects to the live shim of `dir`.
  static caf::expected<shim_link> attach(const std::string& dir);

  /// Relays until the run ended (its end, from the shim or its status
  /// file; a `lost` end if neither tells, its leftovers killed), the shim
  /// could not start it (the error), or abandon().
  caf::expected<run_ended> run(const std::string& run_id, shim_hooks hooks,
                               int wake_fd, int credit_fd);

  void stop(const std::string& by, std::chrono::milliseconds grace);
  void abandon() {
    abandoned_ = true;
  }

private:
  caf::expected<run_ended> after_eof(const std::string& run_id);
  bool reconnect();

  std::string dir_;
  unique_fd sock_;
  unique_fd shim_pidfd_; ///< Only when the shim is our child.
  pid_t shim_pid_ = 0;
  bool abandoned_ = false;
};

} // namespace labrt
