#include "src/script_path.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <deque>
#include <filesystem>

#include "labrt/errc.hpp"
#include "src/sys_util.hpp"

namespace labrt {

namespace {

/// Symlinks followed in one resolution before giving up, as the kernel does.
constexpr int max_symlinks = 40;

/// The components of `path`, without empty ones and ".".
std::deque<std::string> components(const std::string& path) {
  std::deque<std::string> result;
  size_t pos = 0;
  while (pos <= path.size()) {
    auto end = path.find('/', pos);
    if (end == std::string::npos)
      end = path.size();
    auto part = path.substr(pos, end - pos);
    if (!part.empty() && part != ".")
      result.push_back(std::move(part));
    pos = end + 1;
  }
  return result;
}

/// Makes `path` absolute and removes ".", ".." and repeated slashes without
/// touching the file system.
std::string lexically_normal(const std::string& path) {
  std::string full = path;
  if (full.empty() || full[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr)
      return {};
    full = std::string{cwd} + "/" + full;
  }
  std::vector<std::string> parts;
  for (auto& part : components(full)) {
    if (part != "..")
      parts.push_back(std::move(part));
    else if (!parts.empty())
      parts.pop_back();
  }
  std::string result;
  for (auto& part : parts)
    result += "/" + part;
  return result.empty() ? "/" : result;
}

/// `path` below `dir` (both normalized, absolute) as a relative path; false
/// if it is not `dir` or below it.
bool relative_to(const std::string& path, const std::string& dir,
                 std::string& rel) {
  if (dir == "/") {
    rel = path.substr(1);
    return true;
  }
  if (path.compare(0, dir.size(), dir) != 0
      || (path.size() != dir.size() && path[dir.size()] != '/'))
    return false;
  rel = path.substr(dir.size());
  return true;
}

/// Whether `rel` climbs above its start by its own "..": refused whether or
/// not the path exists, as the walk would not tell.
bool climbs_out(const std::string& rel) {
  long depth = 0;
  for (auto& part : components(rel))
    if ((depth += part == ".." ? -1 : 1) < 0)
      return true;
  return false;
}

/// The path the kernel has for an open descriptor; empty on error.
std::string path_of(int fd) {
  char buf[PATH_MAX];
  auto link = "/proc/self/fd/" + std::to_string(fd);
  auto n = ::readlink(link.c_str(), buf, sizeof(buf));
  return n < 0 || static_cast<size_t>(n) >= sizeof(buf)
           ? std::string{}
           : std::string{buf, static_cast<size_t>(n)};
}

/// One root, opened; its path given and real (a root may be a symlink).
struct root_dir {
  unique_fd fd;
  std::string lexical;
  std::string real;

  /// An absolute path as relative to this root; false if outside it.
  bool relative(const std::string& path, std::string& rel) const {
    auto norm = lexically_normal(path);
    return relative_to(norm, lexical, rel) || relative_to(norm, real, rel);
  }
};

enum class walk_end { found, outside, missing, directory, special };

struct walk_result {
  walk_end end;
  unique_fd fd;
};

/// Resolves `rel` beneath `root` one component at a time: every open is
/// relative to a directory already held (O_NOFOLLOW), ".." pops what this
/// walk pushed, and a symlink's target (read from the link itself) is
/// walked the same way, an absolute one only if it names a path in the root.
walk_result walk(const root_dir& root, const std::string& rel) {
  std::vector<unique_fd> dirs; // below the root; empty = at the root
  auto todo = components(rel);
  int links = 0;
  while (!todo.empty()) {
    auto part = std::move(todo.front());
    todo.pop_front();
    if (part == "..") {
      if (dirs.empty())
        return {walk_end::outside, {}};
      dirs.pop_back();
      continue;
    }
    int at = dirs.empty() ? root.fd.get() : dirs.back().get();
    unique_fd fd{::openat(at, part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC)};
    if (!fd)
      return {walk_end::missing, {}};
    struct stat st;
    if (::fstat(fd.get(), &st) < 0)
      return {walk_end::missing, {}};
    if (S_ISLNK(st.st_mode)) {
      if (++links > max_symlinks)
        return {walk_end::missing, {}};
      char buf[PATH_MAX];
      auto n = ::readlinkat(fd.get(), "", buf, sizeof(buf));
      if (n < 0 || static_cast<size_t>(n) >= sizeof(buf))
        return {walk_end::missing, {}};
      std::string target{buf, static_cast<size_t>(n)};
      if (!target.empty() && target[0] == '/') {
        std::string inside;
        if (!root.relative(target, inside))
          return {walk_end::outside, {}};
        target = inside;
        dirs.clear();
      }
      auto more = components(target);
      todo.insert(todo.begin(), more.begin(), more.end());
      continue;
    }
    if (todo.empty()) {
      if (S_ISREG(st.st_mode))
        return {walk_end::found, std::move(fd)};
      return {S_ISDIR(st.st_mode) ? walk_end::directory : walk_end::special,
              {}};
    }
    if (!S_ISDIR(st.st_mode))
      return {walk_end::missing, {}};
    dirs.push_back(std::move(fd));
  }
  return {walk_end::directory, {}}; // the root or a directory in it
}

plain_expected<opened_script> found(unique_fd fd, const std::string& name) {
  auto path = path_of(fd.get());
  if (path.empty())
    return system_error("script '" + name + "': reading its path", errno);
  return opened_script{std::move(fd), std::move(path)};
}

plain_error not_regular(walk_end end, const std::string& name) {
  return plain_error{errc::invalid_argument,
    "script '" + name
      + (end == walk_end::directory ? "' is a directory"
                                    : "' is not a regular file")};
}

/// No roots: any existing regular file, symlinks followed by the kernel.
plain_expected<opened_script> open_anywhere(const std::string& name) {
  unique_fd fd{::open(name.c_str(), O_PATH | O_CLOEXEC)};
  if (!fd)
    return plain_error{
      errc::not_found, "script '" + name + "' not found: " + errno_text(errno)};
  struct stat st;
  if (::fstat(fd.get(), &st) < 0)
    return system_error("script '" + name + "': fstat", errno);
  if (!S_ISREG(st.st_mode))
    return not_regular(S_ISDIR(st.st_mode) ? walk_end::directory
                                           : walk_end::special,
                       name);
  return found(std::move(fd), name);
}

} // namespace

plain_expected<opened_script> open_script(
  const std::vector<std::string>& roots, const std::string& name) {
  if (name.empty() || name.find('\0') != std::string::npos)
    return plain_error{errc::invalid_argument, "invalid script name"};
  if (roots.empty())
    return open_anywhere(name);
  bool outside = false;
  bool missing = false;
  for (auto& path : roots) {
    root_dir root;
    root.fd.reset(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.fd)
      continue; // a configured root that does not exist holds nothing
    root.lexical = lexically_normal(path);
    root.real = path_of(root.fd.get());
    std::string rel = name;
    if ((name[0] == '/' && !root.relative(name, rel)) || climbs_out(rel)) {
      outside = true;
      continue;
    }
    auto result = walk(root, rel);
    switch (result.end) {
      case walk_end::found:
        return found(std::move(result.fd), name);
      case walk_end::outside:
        outside = true;
        break;
      case walk_end::missing:
        missing = true;
        break;
      case walk_end::directory:
      case walk_end::special:
        return not_regular(result.end, name);
    }
  }
  if (outside) // refusing wins: do not reveal what exists outside
    return plain_error{errc::forbidden,
      "script '" + name + "' resolves outside the allowed script roots"};
  if (missing)
    return plain_error{
      errc::not_found, "script '" + name + "' not found in the script roots"};
  return plain_error{
    errc::not_found, "script '" + name + "': no script root exists"};
}

plain_expected<std::string> resolve_script(
  const std::vector<std::string>& roots, const std::string& name) {
  auto script = open_script(roots, name);
  if (!script)
    return std::move(script.error());
  return std::move(script->path);
}

plain_expected<std::string> admit_script(const std::vector<std::string>& roots,
  const std::string& name, const std::string& logs_dir) {
  auto path = resolve_script(roots, name);
  if (!path || logs_dir.empty())
    return path;
  std::error_code ec;
  std::filesystem::create_directories(logs_dir, ec);
  if (ec)
    return plain_error{errc::system_error,
      "cannot create logs_dir '" + logs_dir + "': " + ec.message()};
  return path;
}

} // namespace labrt
