#include "src/proc_tree.hpp"

#include <dirent.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "src/process.hpp"
#include "src/sys_util.hpp"

namespace labrt {

namespace {

/// Calls `f(name)` for each entry of directory `path`. False if unreadable.
template <class F>
bool for_each_entry(const std::string& path, F f) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr)
    return false;
  while (auto entry = ::readdir(dir))
    f(std::string_view{entry->d_name});
  ::closedir(dir);
  return true;
}

/// Whether the NUL-separated `env_text` holds exactly `entry`.
bool environ_has(std::string_view env_text, std::string_view entry) {
  size_t pos = 0;
  while (pos < env_text.size()) {
    auto end = env_text.find('\0', pos);
    if (end == std::string_view::npos)
      end = env_text.size();
    if (env_text.substr(pos, end - pos) == entry)
      return true;
    pos = end + 1;
  }
  return false;
}

/// Whether this kernel has /proc/<pid>/task/<tid>/children
/// (CONFIG_PROC_CHILDREN).
bool have_children_files() {
  return ::access("/proc/thread-self/children", R_OK) == 0;
}

void children_via_files(pid_t pid, std::vector<pid_t>& out) {
  auto task_dir = "/proc/" + std::to_string(pid) + "/task";
  std::string text;
  for_each_entry(task_dir, [&](std::string_view tid) {
    if (parse_pid(tid) == 0)
      return;
    if (!read_file(task_dir + "/" + std::string{tid} + "/children", text))
      return; // vanished
    size_t pos = 0;
    while (pos < text.size()) {
      auto end = text.find(' ', pos);
      if (end == std::string::npos)
        end = text.size();
      if (auto child = parse_pid(std::string_view{text}.substr(pos, end - pos));
          child > 0)
        out.push_back(child);
      pos = end + 1;
    }
  });
}

} // namespace

std::vector<pid_t> descendants(pid_t root) {
  std::vector<pid_t> result;
  if (root <= 0)
    return result;
  std::unordered_map<pid_t, std::vector<pid_t>> by_parent;
  const bool use_files = have_children_files();
  if (!use_files) {
    proc_stat st;
    for (auto pid : list_pids())
      if (read_proc_stat(pid, st))
        by_parent[st.ppid].push_back(pid);
  }
  // Breadth-first; `seen` guards against pid reuse producing a cycle.
  std::unordered_set<pid_t> seen{root};
  std::vector<pid_t> queue{root};
  std::vector<pid_t> kids;
  for (size_t i = 0; i < queue.size(); ++i) {
    kids.clear();
    if (use_files) {
      children_via_files(queue[i], kids);
    } else if (auto it = by_parent.find(queue[i]); it != by_parent.end()) {
      kids = it->second;
    }
    for (auto kid : kids)
      if (seen.insert(kid).second) {
        queue.push_back(kid);
        result.push_back(kid);
      }
  }
  std::sort(result.begin(), result.end());
  return result;
}

std::vector<pid_t> run_members(pid_t leader, const std::string& cookie,
                               uint64_t min_start) {
  auto desc = leader > 0 ? descendants(leader) : std::vector<pid_t>{};
  auto entry = std::string{run_cookie_var} + "=" + cookie;
  std::vector<pid_t> result;
  auto self = ::getpid();
  proc_stat st;
  std::string env_text;
  for (auto pid : list_pids()) {
    if (pid == self || !read_proc_stat(pid, st) || st.state == 'Z'
        || st.state == 'X' || st.start_ticks < min_start)
      continue;
    if ((leader > 0 && (pid == leader || st.pgrp == leader))
        || std::binary_search(desc.begin(), desc.end(), pid)
        || (!cookie.empty()
            && read_file("/proc/" + std::to_string(pid) + "/environ",
                         env_text)
            && environ_has(env_text, entry)))
      result.push_back(pid);
  }
  std::sort(result.begin(), result.end());
  return result;
}

namespace {

/// This process's children, alive or zombie.
std::vector<pid_t> own_children() {
  std::vector<pid_t> kids;
  auto self = ::getpid();
  if (have_children_files()) {
    children_via_files(self, kids);
  } else {
    proc_stat st;
    for (auto pid : list_pids())
      if (read_proc_stat(pid, st) && st.ppid == self)
        kids.push_back(pid);
  }
  return kids;
}

} // namespace

bool child_without_environ(uint64_t min_start) {
  proc_stat st;
  std::string env_text;
  for (auto pid : own_children()) {
    if (!read_proc_stat(pid, st) || st.state == 'Z' || st.state == 'X'
        || st.start_ticks < min_start)
      continue;
    if (!read_file("/proc/" + std::to_string(pid) + "/environ", env_text)) {
      if (errno != ENOENT && errno != ESRCH)
        return true;
    } else if (env_text.empty()) {
      return true;
    }
  }
  return false;
}

int reap_session_zombies(const std::vector<pid_t>& sessions, pid_t keep) {
  if (sessions.empty())
    return 0;
  auto self = ::getpid();
  // Only zombies whose parent is us: never a live child's status or one
  // that belongs to somebody else.
  int count = 0;
  proc_stat st;
  for (auto pid : own_children()) {
    if (pid == keep || !read_proc_stat(pid, st) || st.ppid != self
      || st.state != 'Z'
      || std::find(sessions.begin(), sessions.end(), st.session)
        == sessions.end())
      continue;
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid)
      ++count;
  }
  return count;
}

int run_processes::add(pid_t pid) {
  // Found alive after its member had exited (seen before the scan): the
  // pid was reused, so that one is gone for good (a zombie holds its pid).
  if (auto i = members_.find(pid); i != members_.end() && !i->second.exited)
    return -1;
  auto fd = pidfd_open(pid);
  if (!fd)
    return -1; // gone
  members_[pid] = member{unique_fd{*fd}, false};
  return *fd;
}

void run_processes::note_exits() {
  std::vector<pollfd> pfds;
  std::vector<member*> polled;
  for (auto& [pid, m] : members_)
    if (!m.exited) {
      pfds.push_back({m.pidfd.get(), POLLIN, 0});
      polled.push_back(&m);
    }
  if (pfds.empty() || ::poll(pfds.data(), pfds.size(), 0) <= 0)
    return;
  for (size_t i = 0; i < pfds.size(); ++i)
    if (pfds[i].revents != 0)
      polled[i]->exited = true;
}

void run_processes::exited(pid_t pid) {
  if (auto i = members_.find(pid); i != members_.end())
    i->second.exited = true;
}

void run_processes::signal_live(int sig) {
  for (auto& [pid, m] : members_)
    if (!m.exited)
      send_signal(m.pidfd.get(), sig);
}

void run_processes::reap(pid_t keep) {
  for (auto i = members_.begin(); i != members_.end();) {
    if (i->second.exited && i->first != keep
      && reap_if_gone(i->second.pidfd.get()))
      i = members_.erase(i);
    else
      ++i;
  }
}

size_t run_processes::live() const {
  return static_cast<size_t>(std::count_if(members_.begin(), members_.end(),
    [](const auto& entry) { return !entry.second.exited; }));
}

std::vector<std::pair<pid_t, int>> run_processes::some_live(size_t max) const {
  std::vector<std::pair<pid_t, int>> result;
  for (auto& [pid, m] : members_) {
    if (result.size() == max)
      break;
    if (!m.exited)
      result.emplace_back(pid, m.pidfd.get());
  }
  return result;
}

} // namespace labrt
