// Draining a child's stdout and stderr into a size-capped log file and a
// line callback, and waiting for its exit. Both block: run them on a
// dedicated (detached) thread, never in a scheduled actor.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/event_fd.hpp"
#include "src/plain_error.hpp"
#include "src/process.hpp"

namespace labrt {

/// What run_until_eof saw.
struct capture_result {
  uint64_t out_bytes = 0;     ///< Bytes read from stdout.
  uint64_t err_bytes = 0;     ///< Bytes read from stderr.
  uint64_t written_bytes = 0; ///< Final size of the log file, marker included.
  uint64_t cut_bytes = 0;     ///< Bytes left out of the log (0 = complete).
  bool stopped = false;       ///< Ended by stop() before both EOFs.
  std::string log_error;      ///< Why logging stopped early (e.g. disk full).
};

/// Reads both pipes of a child until EOF on both (or stop()). Everything goes
/// to the log file in arrival order up to `max_bytes`: past that the log
/// keeps the first max_bytes/2 and the last max_bytes/2 bytes with a line
/// "\n[labrt: N bytes cut]\n" between them. The head is written as it comes
/// (so the log can be followed live); once the cap is exceeded the file is
/// cut back to the head and the tail is kept in a ring buffer that is written
/// at the end. Memory: one 64 KiB read buffer, one pending line per stream
/// (capped at `max_line`), and the ring (max_bytes/2) only once cutting.
class output_capture {
public:
  /// Gets each complete line of stream 1 (stdout) or 2 (stderr) without its
  /// '\n'. A line longer than `max_line` is cut to its first `max_line` bytes
  /// followed by " [labrt: N bytes cut]". A last line without '\n' is passed
  /// at EOF. Runs on the capture thread; must not throw.
  using line_handler = std::function<void(int stream, std::string_view line)>;

  static constexpr size_t default_max_line = 64 * 1024;

  /// Takes ownership of both read ends (an empty one counts as at EOF).
  /// An empty `log_path` means no log file. Fails if the log cannot be
  /// created (truncated if it exists).
  static plain_expected<std::unique_ptr<output_capture>> make(unique_fd out,
    unique_fd err, const std::string& log_path, uint64_t max_bytes,
    line_handler on_line, size_t max_line = default_max_line);

  output_capture(const output_capture&) = delete;
  output_capture& operator=(const output_capture&) = delete;
  ~output_capture();

  /// Blocks until both pipes reached EOF or stop() was called, then
  /// finishes the log file. Call once.
  plain_expected<capture_result> run_until_eof();

  /// Makes run_until_eof return soon. Callable from any thread (or a signal
  /// handler), before or during the run; the object must still be alive.
  void stop() noexcept;

  /// An eventfd that stop() signals; polling it tells a capture was stopped.
  int stop_fd() const noexcept {
    return stop_.get();
  }

  // -- for callers with their own poll loop (instead of run_until_eof) ------

  /// The read end of `stream` (1 = stdout, 2 = stderr) to poll; -1 at EOF.
  int fd(int stream) const noexcept {
    return fds_[stream - 1].get();
  }

  /// Reads what `stream` holds now (a few chunks, never blocks), closing it
  /// at EOF. Call when poll reports it readable or hung up.
  void read_some(int stream);

  /// Whether both streams reached EOF.
  bool at_eof() const noexcept {
    return !fds_[0] && !fds_[1];
  }

  /// Passes unterminated last lines, finishes the log and returns the
  /// totals; `stopped` tells the streams were abandoned before EOF. Once.
  capture_result finish(bool stopped);

private:
  struct line_state {
    std::string pending;
    uint64_t dropped = 0;
  };

  output_capture() = default;

  void log(const char* data, size_t n);
  void begin_cut();
  void finish_log();
  bool write_log(const char* data, size_t n);
  void feed_lines(int stream, const char* data, size_t n);
  void emit_line(int stream);

  unique_fd fds_[2];
  event_fd stop_;
  unique_fd log_;
  uint64_t head_cap_ = 0;
  uint64_t max_bytes_ = 0;
  line_handler on_line_;
  size_t max_line_ = default_max_line;
  line_state lines_[2];
  std::vector<char> buf_;
  // Log state.
  uint64_t logged_ = 0;   // bytes offered to the log so far
  bool cutting_ = false;  // exceeded max_bytes: tail goes to ring_ only
  std::vector<char> ring_;
  size_t ring_start_ = 0;
  size_t ring_size_ = 0;
  bool ran_ = false;
  capture_result result_;
};

/// Waits until the process behind `pidfd` exits (poll on the pidfd) and reaps
/// it with waitid(P_PIDFD). With `pidfd` < 0 it falls back to a blocking
/// waitpid(`pid`). If `stop_fd` >= 0 (e.g. an eventfd) becomes readable
/// first, returns `errc::shutting_down` without reaping.
plain_expected<exit_info> wait_exit(int pidfd, pid_t pid, int stop_fd = -1);

} // namespace labrt
