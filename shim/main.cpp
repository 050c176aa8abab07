// labrt-shim RUN_DIR [FD]: the monitor of one run, started by the daemon's
// runner; see src/shim.hpp and docs/runs.md.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "src/shim.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: labrt-shim RUN_DIR [FD]" << std::endl;
    return 2;
  }
  std::string dir = argv[1];
  int fd = argc == 3 ? std::atoi(argv[2]) : -1;
  if (fd >= 0 && fd < 3)
    fd = -1;
  // Our words go to the run's directory, not to a daemon that may be gone.
  int log = ::open((dir + "/shim.log").c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log >= 0) {
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::close(log);
  }
  if (fd >= 0)
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return labrt::shim_main(dir, fd);
}
