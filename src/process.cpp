#include "src/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "labrt/errc.hpp"
#include "src/sys_util.hpp"

#ifndef CLOSE_RANGE_CLOEXEC
#  define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace labrt {

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd)
    ::close(fd_);
  fd_ = fd;
}

namespace {

/// Where the child failed before or at execve, sent over the error pipe.
enum class stage : int { setsid = 1, chdir, dup, exec };

/// Everything the forked child needs, prepared before fork() because after
/// fork() in a multi-threaded process only async-signal-safe calls are
/// allowed (no allocation, no locks).
struct child_args {
  const char* path;
  int exec_fd; // -1 = execve(path)
  int keep_fd; // -1 = none
  char* const* argv;
  char* const* envp;
  const char* cwd; // nullptr = keep ours
  int devnull;
  int out_w;
  int err_w;
  int report_w;
};

[[noreturn]] void report_and_exit(int fd, stage where, int err) noexcept {
  int msg[2] = {static_cast<int>(where), err};
  // 8 bytes < PIPE_BUF: written atomically or not at all.
  while (::write(fd, msg, sizeof(msg)) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

[[noreturn]] void child_main(const child_args& a) noexcept {
  // All signals are blocked (the parent blocked them before fork), so no
  // handler inherited from the embedding application can run here while we
  // reset dispositions. SIG_IGN would survive execve, hence reset them all.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig)
    ::sigaction(sig, &dfl, nullptr); // EINVAL for KILL/STOP/reserved: fine
  if (::setsid() < 0)
    report_and_exit(a.report_w, stage::setsid, errno);
  if (a.cwd != nullptr && ::chdir(a.cwd) < 0)
    report_and_exit(a.report_w, stage::chdir, errno);
  // All source fds are >= 3 (see spawn), so these cannot clobber each other;
  // dup2 clears O_CLOEXEC on the targets.
  if (::dup2(a.devnull, 0) < 0 || ::dup2(a.out_w, 1) < 0
      || ::dup2(a.err_w, 2) < 0)
    report_and_exit(a.report_w, stage::dup, errno);
  // The embedding application may hold fds without O_CLOEXEC: keep them out
  // of the test. Best effort (needs Linux 5.11).
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  if (a.keep_fd >= 0 && ::fcntl(a.keep_fd, F_SETFD, 0) < 0)
    report_and_exit(a.report_w, stage::dup, errno);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (a.exec_fd >= 0)
    ::syscall(SYS_execveat, a.exec_fd, "", a.argv, a.envp, AT_EMPTY_PATH);
  else
    ::execve(a.path, a.argv, a.envp);
  report_and_exit(a.report_w, stage::exec, errno);
}

bool valid_c_string(const std::string& s) {
  return s.find('\0') == std::string::npos;
}

/// Searches `name` in the colon-separated `path_list` like execvp would.
std::string search_path(const std::string& name, const std::string& path_list) {
  size_t pos = 0;
  for (;;) {
    auto end = path_list.find(':', pos);
    auto dir = path_list.substr(pos, end == std::string::npos ? std::string::npos
                                                             : end - pos);
    if (dir.empty())
      dir = ".";
    auto candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)
        && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (end == std::string::npos)
      return {};
    pos = end + 1;
  }
}

/// The interpreter named by a "#!" line of `path`, or empty.
std::string shebang_of(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::string line;
  if (!in || !std::getline(in, line) || line.compare(0, 2, "#!") != 0)
    return {};
  auto first = line.find_first_not_of(" \t", 2);
  if (first == std::string::npos)
    return {};
  auto last = line.find_first_of(" \t\r", first);
  return line.substr(first, last == std::string::npos ? std::string::npos
                                                      : last - first);
}

/// Whether the file behind `fd` (any mode, O_PATH too) starts with "#!".
/// Unreadable counts as a script: keeping its descriptor open is harmless,
/// closing it would break the exec of one.
bool is_script(int fd) {
  auto link = "/proc/self/fd/" + std::to_string(fd);
  unique_fd file{::open(link.c_str(), O_RDONLY | O_CLOEXEC)};
  char head[2];
  return !file || ::pread(file.get(), head, 2, 0) != 2
         || (head[0] == '#' && head[1] == '!');
}

/// A clear message for a failed exec of `path` with errno `err`.
std::string exec_failure_message(const std::string& path, int err) {
  auto prefix = "cannot execute '" + path + "': ";
  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  switch (err) {
    case ENOENT:
      if (exists) {
        // execve reports a missing #! interpreter as ENOENT on the script.
        auto interp = shebang_of(path);
        if (!interp.empty())
          return prefix + "bad interpreter '" + interp + "' (not found)";
        return prefix + "bad interpreter or missing loader";
      }
      return prefix + "no such file";
    case EACCES:
      if (exists && S_ISDIR(st.st_mode))
        return prefix + "is a directory";
      return prefix + "permission denied (not executable?)";
    case ENOEXEC:
      return prefix + "exec format error (no #! line and not a binary)";
    default:
      return prefix + errno_text(err);
  }
}

} // namespace

plain_expected<child> spawn(const spawn_spec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty())
    return plain_error{errc::invalid_argument, "spawn: empty argv"};
  for (auto& arg : spec.argv)
    if (!valid_c_string(arg))
      return plain_error{errc::invalid_argument, "spawn: NUL byte in argv"};
  if (!valid_c_string(spec.cwd))
    return plain_error{errc::invalid_argument, "spawn: NUL byte in cwd"};
  // Build the exact environment: allowlisted names, then explicit ones, then
  // the cookie (which nothing may override).
  std::map<std::string, std::string> vars;
  for (auto& name : spec.inherit_env)
    if (auto value = ::getenv(name.c_str()); value != nullptr)
      vars[name] = value;
  for (auto& [name, value] : spec.env)
    vars[name] = value;
  if (!spec.cookie.empty())
    vars[run_cookie_var] = spec.cookie;
  std::vector<std::string> env_strings;
  env_strings.reserve(vars.size());
  for (auto& [name, value] : vars) {
    if (name.empty() || name.find('=') != std::string::npos
        || !valid_c_string(name) || !valid_c_string(value))
      return plain_error{errc::invalid_argument,
        "spawn: invalid environment variable name or value '" + name + "'"};
    env_strings.emplace_back(name + "=" + value);
  }
  // argv as execve wants it.
  std::vector<std::string> args;
  if (spec.use_shell) {
    args = {"/bin/sh", "-c", spec.argv[0], "sh"};
    args.insert(args.end(), spec.argv.begin() + 1, spec.argv.end());
  } else {
    args = spec.argv;
  }
  if (spec.exec_fd >= 0 && spec.use_shell)
    return plain_error{errc::invalid_argument,
      "spawn: exec_fd and use_shell exclude each other"};
  // The dup2 calls onto stdio in the child would overwrite a lower one.
  if ((spec.exec_fd >= 0 && spec.exec_fd < 3)
      || (spec.keep_fd >= 0 && spec.keep_fd < 3))
    return plain_error{
      errc::invalid_argument, "spawn: exec_fd/keep_fd below 3"};
  int exec_fd = spec.exec_fd;
  int keep_fd = spec.keep_fd;
  if (exec_fd >= 0 && keep_fd < 0 && is_script(exec_fd))
    keep_fd = exec_fd;
  std::string path = args[0];
  if (exec_fd < 0 && path.find('/') == std::string::npos) {
    auto i = vars.find("PATH");
    path = search_path(path, i != vars.end() ? i->second : "/usr/bin:/bin");
    if (path.empty())
      return plain_error{errc::spawn_failed,
        "cannot execute '" + args[0] + "': not found in PATH"};
  }
  std::vector<char*> argv_ptrs;
  for (auto& arg : args)
    argv_ptrs.push_back(arg.data());
  argv_ptrs.push_back(nullptr);
  std::vector<char*> env_ptrs;
  for (auto& var : env_strings)
    env_ptrs.push_back(var.data());
  env_ptrs.push_back(nullptr);
  // Descriptors: every child-side fd is moved to >= 3 so the dup2 calls onto
  // 0/1/2 cannot overwrite each other even if our own stdio is closed.
  int out_pipe[2];
  int err_pipe[2];
  int report_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) < 0)
    return system_error("spawn: pipe2", errno);
  unique_fd out_r{out_pipe[0]};
  unique_fd out_w{out_pipe[1]};
  if (::pipe2(err_pipe, O_CLOEXEC) < 0)
    return system_error("spawn: pipe2", errno);
  unique_fd err_r{err_pipe[0]};
  unique_fd err_w{err_pipe[1]};
  if (::pipe2(report_pipe, O_CLOEXEC) < 0)
    return system_error("spawn: pipe2", errno);
  unique_fd report_r{report_pipe[0]};
  unique_fd report_w{report_pipe[1]};
  unique_fd devnull{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  if (!devnull)
    return system_error("spawn: open /dev/null", errno);
  for (auto* fd : {&out_w, &err_w, &report_w, &devnull})
    if (fd->get() < 3) {
      int high = ::fcntl(fd->get(), F_DUPFD_CLOEXEC, 3);
      if (high < 0)
        return system_error("spawn: fcntl", errno);
      fd->reset(high);
    }
  // Our side reads without blocking; the child's ends stay blocking.
  for (auto* fd : {&out_r, &err_r})
    if (::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) | O_NONBLOCK)
        < 0)
      return system_error("spawn: fcntl", errno);
  child_args cargs{path.c_str(),
                   exec_fd,
                   keep_fd,
                   argv_ptrs.data(),
                   env_ptrs.data(),
                   spec.cwd.empty() ? nullptr : spec.cwd.c_str(),
                   devnull.get(),
                   out_w.get(),
                   err_w.get(),
                   report_w.get()};
  // Block all signals across fork; see child_main.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0)
    child_main(cargs);
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0)
    return system_error("spawn: fork", fork_errno);
  out_w.reset();
  err_w.reset();
  report_w.reset();
  devnull.reset();
  // EOF on the report pipe = execve succeeded (its O_CLOEXEC end closed).
  int msg[2] = {0, 0};
  size_t got = 0;
  while (got < sizeof(msg)) {
    auto n = ::read(report_r.get(), reinterpret_cast<char*>(msg) + got,
                    sizeof(msg) - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += static_cast<size_t>(n);
  }
  auto reap = [pid] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  };
  if (got != 0) {
    reap(); // it _exit()s right after reporting
    if (got != sizeof(msg))
      return plain_error{errc::spawn_failed,
        "cannot execute '" + path + "': child failed early"};
    auto err = msg[1];
    switch (static_cast<stage>(msg[0])) {
      case stage::setsid:
        return plain_error{
          errc::spawn_failed, "spawn: setsid failed: " + errno_text(err)};
      case stage::chdir:
        return plain_error{errc::spawn_failed,
          "cannot change to directory '" + spec.cwd + "': " + errno_text(err)};
      case stage::dup:
        return plain_error{
          errc::spawn_failed, "spawn: dup2 failed: " + errno_text(err)};
      case stage::exec:
        break;
    }
    return plain_error{errc::spawn_failed, exec_failure_message(path, err)};
  }
  // Not yet reaped, so the pid cannot have been reused: the pidfd is ours.
  auto pfd = pidfd_open(pid);
  if (!pfd) {
    ::kill(-pid, SIGKILL);
    reap();
    return std::move(pfd.error());
  }
  child result;
  result.pid = pid;
  result.pidfd.reset(*pfd);
  result.pgid = pid;
  result.out_fd = std::move(out_r);
  result.err_fd = std::move(err_r);
  return result;
}

} // namespace labrt
