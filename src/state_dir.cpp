#include "src/state_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "labrt/errc.hpp"
#include "src/sys_util.hpp"

namespace labrt {

caf::expected<unique_fd> lock_state_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto parent = fs::path{dir}.parent_path();
  if (!parent.empty())
    fs::create_directories(parent, ec);
  // The leaf is ours: private, since it will hold what runs leave behind.
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return system_error("cannot create state_dir " + dir, errno);
  auto path = dir + "/lock";
  unique_fd fd{::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)};
  if (!fd)
    return system_error("cannot open " + path, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    auto err = errno;
    if (err != EWOULDBLOCK)
      return system_error("cannot lock " + path, err);
    std::string holder;
    read_file(path, holder);
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
      holder.pop_back();
    return make_error(errc::already_running,
                      "state_dir " + dir + " is in use by another daemon"
                        + (holder.empty() ? "" : " (pid " + holder + ")"));
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0
      || ::pwrite(fd.get(), pid.data(), pid.size(), 0)
           != static_cast<ssize_t>(pid.size()))
    return system_error("cannot write " + path, errno);
  return fd;
}

} // namespace labrt
