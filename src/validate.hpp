// Checks on what callers hand the managers, shared by all of them.
#pragma once

#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "labrt/config.hpp"
#include "labrt/json.hpp"
#include "labrt/run_types.hpp"

namespace labrt {

/// Whether `s` is well-formed UTF-8 (nlohmann's dump() throws on anything else).
bool valid_utf8(std::string_view s) noexcept;

/// A key must be non-empty UTF-8 of at most `bounds.max_key_bytes` bytes.
caf::error check_key(std::string_view key, const limits& bounds);

/// A value must hold only UTF-8 strings and serialize to at most
/// `bounds.max_value_bytes` bytes. Stops walking as soon as it is too large.
caf::error check_value(const json& value, const limits& bounds);

/// What check_run_spec finds wrong with `spec`, or "" (no CAF: it sits in
/// run_types.cpp, beside from_json(run_spec), which shares its rules).
std::string run_spec_problem(const run_spec& spec);

/// A short name of a JSON value's type for messages, e.g. "string".
const char* type_name(const json& value) noexcept;

} // namespace labrt
