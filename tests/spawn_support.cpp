// The helpers of test_process (see spawn_support.hpp).
#include "spawn_support.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "labrt/errc.hpp"
#include "proc_support.hpp"

namespace labrt::test {

// Adopt orphans from the start: killed grandchildren must be reaped by us
// (pid 1 of a container may never reap them).
const bool subreaper = set_child_subreaper();

std::string script(const std::string& name) {
  return scripts_dir + "/" + name;
}

void write_file(const std::string& path, const std::string& text,
                mode_t mode) {
  std::ofstream{path, std::ios::binary} << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

unique_fd deadline_after(int seconds) {
  unique_fd fd{::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)};
  REQUIRE(fd);
  itimerspec spec{};
  spec.it_value.tv_sec = seconds;
  REQUIRE(::timerfd_settime(fd.get(), 0, &spec, nullptr) == 0);
  return fd;
}

bool wait_gone(int pidfd, int seconds) {
  auto deadline = deadline_after(seconds);
  pollfd pfds[2] = {{pidfd, POLLIN, 0}, {deadline.get(), POLLIN, 0}};
  for (;;) {
    if (::poll(pfds, 2, -1) < 0 && errno != EINTR)
      return false;
    if (pfds[0].revents != 0)
      return true;
    if (pfds[1].revents != 0)
      return false;
  }
}

std::string read_until(int fd, const std::string& marker, int seconds) {
  auto deadline = deadline_after(seconds);
  std::string text;
  pollfd pfds[2] = {{fd, POLLIN, 0}, {deadline.get(), POLLIN, 0}};
  while (text.find(marker) == std::string::npos) {
    if (::poll(pfds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pfds[1].revents != 0)
      break;
    char buf[4096];
    auto n = ::read(fd, buf, sizeof(buf));
    if (n == 0)
      break;
    if (n > 0)
      text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

child spawn_ok(const spawn_spec& spec) {
  auto c = spawn(spec);
  if (!c)
    FAIL("spawn failed: " << render(c.error()));
  return std::move(*c);
}

run_output run_to_end(const spawn_spec& spec, const std::string& log_path,
                      uint64_t max_bytes, int seconds) {
  auto c = spawn_ok(spec);
  child_guard guard{c.pid};
  run_output r;
  auto cap = output_capture::make(
    std::move(c.out_fd), std::move(c.err_fd), log_path, max_bytes,
    [&r](int stream, std::string_view line) {
      auto& lines = stream == 1 ? r.out : r.err;
      ++(stream == 1 ? r.out_lines : r.err_lines);
      if (lines.size() < 1000)
        lines.emplace_back(line);
    });
  REQUIRE(cap);
  caf::expected<capture_result> cap_result{capture_result{}};
  std::thread reader{[&] { cap_result = (*cap)->run_until_eof(); }};
  auto deadline = deadline_after(seconds);
  auto ex = wait_exit(c.pidfd.get(), c.pid, deadline.get());
  if (!ex) {
    ::kill(-c.pid, SIGKILL);
    (*cap)->stop();
  } else {
    guard.reaped = true;
  }
  reader.join();
  REQUIRE(ex);
  REQUIRE(cap_result);
  r.exit = *ex;
  r.cap = *cap_result;
  return r;
}

spawn_spec script_spec(const std::string& name,
                       std::vector<std::string> args) {
  spawn_spec spec;
  spec.argv.push_back(script(name));
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.inherit_env = {"PATH"};
  return spec;
}

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

bool contains(const std::vector<pid_t>& xs, pid_t x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

} // namespace labrt::test
