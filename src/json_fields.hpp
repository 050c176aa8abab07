// Fields shared by the to_json/from_json of the plain types: times as ISO
// 8601 text, null where there is none. Plain C++, no actors.
#pragma once

#include <string>

#include <caf/timestamp.hpp>

#include "labrt/json.hpp"

namespace labrt {

/// to_iso8601(t), or null for the epoch (no time).
json time_or_null(caf::timestamp t);

/// from_iso8601 of `j[key]`; the epoch if it is missing or no string.
caf::timestamp time_from(const json& j, const char* key);

/// `s`, or null if it is empty.
json text_or_null(const std::string& s);

} // namespace labrt
