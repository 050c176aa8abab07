// The daemon's state directory: created private, and held by one daemon at a
// time. Plain C++, no actors.
#pragma once

#include <string>

#include <caf/expected.hpp>

#include "src/process.hpp"

namespace labrt {

/// Creates `dir` (0700 where it creates it) and takes an exclusive flock on
/// `<dir>/lock`, which then holds this process's pid. The lock lasts as long
/// as the returned descriptor, and ends with the process however it ends, so
/// a crashed daemon never leaves it stale. A directory another process holds
/// is `errc::already_running`, naming its pid.
caf::expected<unique_fd> lock_state_dir(const std::string& dir);

} // namespace labrt
