// labrt error codes: one enum for the whole runtime, carried as caf::error.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace labrt {

/// Every error labrt returns. Values start at 1 (0 means "no error" in CAF).
enum class errc : uint8_t {
  invalid_argument = 1, ///< A malformed or out-of-range argument.
  wrong_type,           ///< A JSON value of the wrong type for its field.
  key_too_long,         ///< A key over the configured length limit.
  value_too_large,      ///< A value over the configured size limit.
  conflict,             ///< A conditional write saw another revision.
  patch_failed,         ///< A malformed patch, or a JSON Patch op that failed.
  already_running,      ///< A start while a test or run is in progress.
  not_running,          ///< A stop or query that needs a running test.
  not_found,            ///< An unknown key, run, service or file.
  forbidden,            ///< A path outside the allowed roots.
  spawn_failed,         ///< exec failed: missing, not executable, bad interpreter.
  system_error,         ///< A system call failed (errno in the message).
  timeout,              ///< A facade call got no answer in time.
  shutting_down,        ///< The runtime is stopping.
  storage_failed,       ///< The database refused: corrupt, read-only, full.
  unavailable,          ///< A cluster host is down, unreachable or refused us.
};

/// The CAF error category of labrt errors.
inline caf::atom_value error_category() {
  return caf::atom("labrt");
}

/// Short name of a code, e.g. "conflict" (used in JSON error bodies).
const char* to_string(errc x);

/// `errc` as a caf::error with a human-readable message.
caf::error make_error(errc code, std::string message);

/// A conflict error that also carries the current revision.
caf::error make_conflict(std::string message, uint64_t current_revision);

/// The labrt code of `err`, or 0 if it is no labrt error (e.g. a CAF timeout).
errc code_of(const caf::error& err);

/// The message of `err` without category decoration.
std::string message_of(const caf::error& err);

/// The current revision carried by a conflict error (0 if none).
uint64_t conflict_revision(const caf::error& err);

/// Renders any error, labrt or CAF, as "code: message".
std::string render(const caf::error& err);

} // namespace labrt
