// Server-Sent Events as GET /api/events writes them: the one codec that the
// server, labctl, the tests and the benchmarks share (target labrt::http).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "labrt/types.hpp"

namespace labrt::sse {

/// The wire form of one event: `id: N` (when N > 0), `event: KIND`,
/// `data: TEXT` and a blank line. `ev.data` must be one line (compact JSON).
std::string format(const event& ev);

/// Splits a byte stream into events. Comments (keep-alives), `retry:` and
/// frames without data are skipped; a frame without `event:` is a "message".
class parser {
public:
  /// Takes the next chunk; returns the events it completed.
  std::vector<event> feed(std::string_view chunk);

  /// The last `id:` seen in a completed frame, with or without data, as a
  /// browser's EventSource keeps it for Last-Event-ID; none before any.
  std::optional<uint64_t> last_id() const {
    return last_id_;
  }

private:
  std::string buffer_;
  std::optional<uint64_t> last_id_;
};

} // namespace labrt::sse
