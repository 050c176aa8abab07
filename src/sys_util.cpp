#include "src/sys_util.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "labrt/errc.hpp"

namespace labrt {

std::string errno_text(int err) {
  // strerrordesc_np/strerrorname_np (glibc 2.32+) return static strings,
  // unlike strerror which may use a shared buffer.
  auto desc = ::strerrordesc_np(err);
  auto name = ::strerrorname_np(err);
  std::string result = desc != nullptr ? desc : "unknown error";
  result += " (";
  result += name != nullptr ? name : std::to_string(err);
  result += ')';
  return result;
}

plain_error system_error(const std::string& what, int err) {
  return plain_error{errc::system_error, what + ": " + errno_text(err)};
}

bool read_file(const std::string& path, std::string& out) {
  out.clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      errno = err;
      return false;
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

bool same_secret(const std::string& given, const std::string& secret) {
  unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(
      given[i] ^ secret[secret.empty() ? 0 : i % secret.size()]);
  return diff == 0;
}

} // namespace labrt
