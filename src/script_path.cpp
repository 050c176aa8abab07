#include "script_path.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "labrt/errc.hpp"
#include "sys_util.hpp"

namespace labrt {

namespace {

/// realpath(3) as a string; empty on error (errno set).
std::string real_path(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr)
    return {};
  std::string result{resolved};
  std::free(resolved);
  return result;
}

/// Makes `path` absolute and removes ".", ".." and repeated slashes without
/// touching the file system (symlinks are checked later via realpath).
std::string lexically_normal(const std::string& path) {
  std::string full = path;
  if (full.empty() || full[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr)
      return {};
    full = std::string{cwd} + "/" + full;
  }
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= full.size()) {
    auto end = full.find('/', pos);
    if (end == std::string::npos)
      end = full.size();
    auto part = full.substr(pos, end - pos);
    if (part == "..") {
      if (!parts.empty())
        parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(std::move(part));
    }
    pos = end + 1;
  }
  std::string result;
  for (auto& part : parts)
    result += "/" + part;
  return result.empty() ? "/" : result;
}

/// Whether `path` is `dir` or below it (both normalized, absolute).
bool is_within(const std::string& path, const std::string& dir) {
  if (dir == "/")
    return true;
  return path.compare(0, dir.size(), dir) == 0
         && (path.size() == dir.size() || path[dir.size()] == '/');
}

caf::expected<std::string> check_file(const std::string& real,
                                      const std::string& name) {
  struct stat st;
  if (::stat(real.c_str(), &st) < 0)
    return make_error(errc::not_found, "script '" + name + "' not found");
  if (S_ISDIR(st.st_mode))
    return make_error(errc::invalid_argument,
                      "script '" + name + "' is a directory");
  if (!S_ISREG(st.st_mode))
    return make_error(errc::invalid_argument,
                      "script '" + name + "' is not a regular file");
  return real;
}

} // namespace

caf::expected<std::string> resolve_script(const std::vector<std::string>& roots,
                                          const std::string& name) {
  if (name.empty() || name.find('\0') != std::string::npos)
    return make_error(errc::invalid_argument, "invalid script name");
  if (roots.empty()) {
    auto real = real_path(name);
    if (real.empty())
      return make_error(errc::not_found, "script '" + name + "' not found: "
                                           + errno_text(errno));
    return check_file(real, name);
  }
  bool outside = false;
  bool missing = false;
  for (auto& root : roots) {
    auto root_real = real_path(root);
    if (root_real.empty())
      continue; // a configured root that does not exist holds nothing
    auto root_lex = lexically_normal(root);
    auto candidate = name[0] == '/' ? name : root + "/" + name;
    // Lexical check first: "../x" or "/etc/x" is refused whether or not it
    // exists. The root may be given through a symlink, hence both forms.
    auto cand_lex = lexically_normal(candidate);
    if (!is_within(cand_lex, root_lex) && !is_within(cand_lex, root_real)) {
      outside = true;
      continue;
    }
    auto real = real_path(candidate);
    if (real.empty()) {
      missing = true;
      continue;
    }
    // Symlinks anywhere on the way may point out of the root.
    if (!is_within(real, root_real)) {
      outside = true;
      continue;
    }
    return check_file(real, name);
  }
  if (outside) // refusing wins: do not reveal what exists outside
    return make_error(errc::forbidden, "script '" + name
                                         + "' resolves outside the allowed "
                                           "script roots");
  if (missing)
    return make_error(errc::not_found, "script '" + name
                                         + "' not found in the script roots");
  return make_error(errc::not_found,
                    "script '" + name + "': no script root exists");
}

} // namespace labrt
