#include "src/pidfd_watch.hpp"

#include <poll.h>

#include <cerrno>

#include "labrt/errc.hpp"
#include "src/proc_stat.hpp"
#include "src/sys_util.hpp"

namespace labrt {

std::vector<proc_id> pidfd_set::watch(const std::vector<proc_id>& ids) {
  std::vector<proc_id> gone;
  for (auto& id : ids) {
    if (fds_.count(id) != 0)
      continue;
    auto fd = pidfd_open(id.pid);
    if (!fd) {
      if (code_of(fd.error()) == errc::not_found)
        gone.push_back(id); // ESRCH: gone already
      else
        ++failed; // EMFILE and the like: the next scan still notices.
      continue;
    }
    unique_fd owned{*fd};
    // The pidfd names whatever has the pid now: check it is the same
    // process (start time) and still alive. From here on the pidfd pins it.
    proc_stat ident;
    if (!read_proc_stat(id.pid, ident) || ident.start_ticks != id.start_ticks
      || !counts_as_running(ident)) {
      gone.push_back(id);
      continue;
    }
    fds_.emplace(id, std::move(owned));
  }
  return gone;
}

void pidfd_set::unwatch(const std::vector<proc_id>& ids) {
  for (auto& id : ids)
    fds_.erase(id);
}

std::vector<proc_id> pidfd_set::poll(const event_fd& wake, int timeout_ms) {
  std::vector<pollfd> pfds;
  std::vector<proc_id> keys;
  pfds.reserve(fds_.size() + 1);
  keys.reserve(fds_.size());
  pfds.push_back(pollfd{wake.get(), POLLIN, 0});
  for (auto& [id, fd] : fds_) {
    pfds.push_back(pollfd{fd.get(), POLLIN, 0});
    keys.push_back(id);
  }
  std::vector<proc_id> exited;
  auto n = ::poll(pfds.data(), static_cast<nfds_t>(pfds.size()), timeout_ms);
  if (n <= 0)
    return exited; // timeout or EINTR
  if (pfds[0].revents != 0)
    wake.drain();
  for (size_t i = 1; i < pfds.size(); ++i) {
    if (pfds[i].revents == 0)
      continue;
    exited.push_back(keys[i - 1]);
    fds_.erase(keys[i - 1]);
  }
  return exited;
}

} // namespace labrt
