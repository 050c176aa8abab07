// What every config section's parser reports a bad field with. Plain C++,
// no actors.
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "labrt/json.hpp"

namespace labrt {

/// `errc::invalid_argument` reading "config: <field> <what>", e.g.
/// "config: http.threads must be ...".
caf::error config_error(const std::string& field, const std::string& what);

/// An integer from `lo` to `hi` (`unit` names what it counts). 1.5, 1e3 and
/// numbers past int64 are refused rather than truncated or wrapped.
caf::expected<int64_t> integer_in(const json& value, const std::string& field,
  int64_t lo, int64_t hi, const char* unit);

} // namespace labrt
