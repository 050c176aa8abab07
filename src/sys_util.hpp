// Small helpers shared by the process-control sources (internal).
#pragma once

#include <string>

#include "src/plain_error.hpp"

namespace labrt {

/// "No such file or directory (ENOENT)" for ENOENT; thread-safe.
std::string errno_text(int err);

/// An `errc::system_error` reading "<what>: <errno_text(err)>".
plain_error system_error(const std::string& what, int err);

/// Reads a whole (small, e.g. /proc) file into `out`. False on any error,
/// with errno set; `out` then holds whatever was read.
bool read_file(const std::string& path, std::string& out);

/// Compares a secret shown (a token, the cluster secret) without an early
/// exit, so timing does not reveal a matching prefix.
bool same_secret(const std::string& given, const std::string& secret);

} // namespace labrt
