#include "src/log_read.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "labrt/errc.hpp"
#include "src/sys_util.hpp"

namespace labrt {

caf::expected<log_chunk> read_log_chunk(run_record rec, uint64_t offset,
                                        size_t max) {
  if (rec.log.empty())
    return make_error(errc::not_found,
                      "run " + rec.run_id + " has no log file");
  int fd = ::open(rec.log.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return make_error(errc::not_found, "cannot read the log of run "
                                         + rec.run_id + ": "
                                         + errno_text(errno));
  log_chunk chunk;
  chunk.offset = offset;
  chunk.data.resize(max);
  size_t got = 0;
  int err = 0;
  while (got < max) {
    auto n = ::pread(fd, chunk.data.data() + got, max - got,
                     static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      err = errno;
    if (n <= 0)
      break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (err != 0)
    return make_error(errc::not_found, "cannot read the log of run "
                                         + rec.run_id + ": "
                                         + errno_text(err));
  chunk.data.resize(got);
  chunk.run = std::move(rec);
  return chunk;
}

} // namespace labrt
