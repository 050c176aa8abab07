// Resolving a requested test script against the allowed script roots.
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace labrt {

/// Resolves `name` (relative to a root, or absolute) to the real path of a
/// regular file inside one of `roots`, following symlinks.
/// - anything resolving outside every root (`..`, absolute paths elsewhere,
///   symlinks pointing out) -> `errc::forbidden`, also if it does not exist
///   (so the answer does not reveal what exists outside);
/// - missing inside a root -> `errc::not_found`;
/// - a directory or other non-regular file -> `errc::invalid_argument`.
/// With no roots, any existing regular file is accepted (relative names are
/// then relative to the current directory): a local user running labctl.
caf::expected<std::string> resolve_script(const std::vector<std::string>& roots,
                                          const std::string& name);

} // namespace labrt
