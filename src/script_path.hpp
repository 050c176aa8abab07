// Resolving a requested test script against the allowed script roots.
#pragma once

#include <string>
#include <vector>

#include "src/plain_error.hpp"
#include "src/process.hpp"

namespace labrt {

/// A script found beneath a root: an O_PATH descriptor of the very file that
/// was checked (exec it, not its path, or a rename in between could swap it)
/// and the real path it had when opened.
struct opened_script {
  unique_fd fd;
  std::string path;
};

/// Opens `name` (relative to a root, or absolute) as a regular file inside
/// one of `roots`. Each component is opened relative to the directory
/// descriptor before it, and symlinks are followed here, not by the kernel,
/// so a symlink (or a directory swapped for one) can never lead out of the
/// root; symlinks that stay inside it are fine.
/// - anything resolving outside every root (`..`, absolute paths elsewhere,
///   symlinks pointing out) -> `errc::forbidden`, also if it does not exist
///   (so the answer does not reveal what exists outside);
/// - missing inside a root -> `errc::not_found`;
/// - a directory or other non-regular file -> `errc::invalid_argument`.
/// With no roots, any existing regular file is accepted (relative names are
/// then relative to the current directory): a local user running labctl.
plain_expected<opened_script> open_script(
  const std::vector<std::string>& roots, const std::string& name);

/// open_script's path alone: where the script is now.
plain_expected<std::string> resolve_script(
  const std::vector<std::string>& roots, const std::string& name);

/// The file work of admitting a run: the script's real path, as
/// resolve_script, and `logs_dir` created when it is not empty (the run's log
/// goes there), errc::system_error naming it if that fails.
plain_expected<std::string> admit_script(const std::vector<std::string>& roots,
  const std::string& name, const std::string& logs_dir);

} // namespace labrt
