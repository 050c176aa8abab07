// Reading a run's log file a chunk at a time, for a reader that is not
// where the run ran (internal).
#pragma once

#include <cstddef>
#include <cstdint>

#include <caf/expected.hpp>

#include "labrt/run_types.hpp"

namespace labrt {

/// What one read takes: a chunk that crosses the network whole.
inline constexpr size_t log_chunk_max = 64 * 1024;

/// Up to `max` bytes of `rec`'s log from `offset`, with `rec`.
/// `errc::not_found` if the run has no log or it cannot be read.
caf::expected<log_chunk> read_log_chunk(run_record rec, uint64_t offset,
                                        size_t max);

} // namespace labrt
