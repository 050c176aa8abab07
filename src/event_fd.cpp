#include "src/event_fd.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "src/sys_util.hpp"

namespace labrt {

plain_expected<event_fd> event_fd::make() {
  event_fd result;
  result.fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!result.fd_)
    return system_error("eventfd", errno);
  return result;
}

void event_fd::add(int fd, uint64_t n) noexcept {
  if (fd < 0 || n == 0)
    return;
  // EAGAIN only if the counter would pass its maximum: readable anyway.
  while (::write(fd, &n, sizeof(n)) < 0 && errno == EINTR) {
  }
}

uint64_t event_fd::drain(int fd) noexcept {
  if (fd < 0)
    return 0;
  uint64_t value = 0;
  ssize_t n;
  while ((n = ::read(fd, &value, sizeof(value))) < 0 && errno == EINTR) {
  }
  return n == static_cast<ssize_t>(sizeof(value)) ? value : 0;
}

} // namespace labrt
