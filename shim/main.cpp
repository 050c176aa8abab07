// labrt-shim RUN_DIR [FD], or labrt-shim --spare FD: the monitor of one run,
// started by the daemon's runner; see src/shim.hpp and docs/runs.md. A spare
// is started ahead of its run and waits on FD for the run's directory.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "src/shim.hpp"

int main(int argc, char** argv) {
  bool spare = argc == 3 && std::strcmp(argv[1], "--spare") == 0;
  if (argc < 2 || argc > 3
    || (!spare && std::strcmp(argv[1], "--spare") == 0)) {
    std::cerr << "usage: labrt-shim RUN_DIR [FD] | labrt-shim --spare FD"
              << std::endl;
    return 2;
  }
  int fd = argc == 3 ? std::atoi(argv[2]) : -1;
  if (fd >= 0 && fd < 3)
    fd = -1;
  if (fd >= 0)
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::string dir = spare ? labrt::await_run_dir(fd) : argv[1];
  if (dir.empty())
    return spare ? 0 : 2; // Not needed after all.
  if (spare) {
    // What ps shows: a spare no more. In place, as the kernel reads it.
    std::memset(argv[1], 0, std::strlen(argv[1]) + 1 + std::strlen(argv[2]));
    std::memcpy(argv[1], "--run", 5);
  }
  // Our words go to the run's directory, not to a daemon that may be gone.
  int log = ::open((dir + "/shim.log").c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log >= 0) {
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::close(log);
  }
  return labrt::shim_main(dir, fd);
}
