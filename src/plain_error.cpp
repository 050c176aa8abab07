#include "src/plain_error.hpp"

namespace labrt {

// Here, not in errc.cpp, so that the process layer has it without CAF.
const char* to_string(errc x) {
  switch (x) {
    case errc::invalid_argument: return "invalid_argument";
    case errc::wrong_type: return "wrong_type";
    case errc::key_too_long: return "key_too_long";
    case errc::value_too_large: return "value_too_large";
    case errc::conflict: return "conflict";
    case errc::patch_failed: return "patch_failed";
    case errc::already_running: return "already_running";
    case errc::not_running: return "not_running";
    case errc::not_found: return "not_found";
    case errc::forbidden: return "forbidden";
    case errc::spawn_failed: return "spawn_failed";
    case errc::system_error: return "system_error";
    case errc::timeout: return "timeout";
    case errc::shutting_down: return "shutting_down";
    case errc::storage_failed: return "storage_failed";
    case errc::unavailable: return "unavailable";
  }
  return "unknown";
}

std::string render(const plain_error& err) {
  return std::string{to_string(err.code)} + ": " + err.message;
}

} // namespace labrt
