// Helpers for the tests that work with real processes and files: a
// temporary directory, reading a file whole, zombie children, peak memory.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "src/proc_tree.hpp"

namespace labrt::test {

/// A fresh directory under /tmp, removed with everything in it at scope
/// exit.
struct temp_dir {
  std::string path;

  explicit temp_dir(const std::string& prefix = "labrt-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string operator/(const std::string& name) const {
    return path + "/" + name;
  }
};

/// A copy of `program` as `dir/name`: its comm is `name`.
inline std::string copy_program(const temp_dir& dir, const std::string& name,
                                const char* program) {
  auto dst = dir / name;
  std::filesystem::copy_file(program, dst);
  std::filesystem::permissions(dst, std::filesystem::perms::owner_all);
  return dst;
}

/// /bin/sleep copied as `dir/name`: a stand-in daemon of that name.
inline std::string copy_sleep(const temp_dir& dir, const std::string& name) {
  return copy_program(dir, name, "/bin/sleep");
}

/// The whole content of a file ("" if unreadable).
inline std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Zombie children of this process.
inline std::vector<pid_t> zombie_children() {
  std::vector<pid_t> result;
  for (auto& entry : std::filesystem::directory_iterator{"/proc"}) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    proc_stat st;
    auto pid = static_cast<pid_t>(std::stoi(name));
    if (read_proc_stat(pid, st) && st.ppid == ::getpid() && st.state == 'Z')
      result.push_back(pid);
  }
  return result;
}

/// A field of /proc/self/status in kB ("VmRSS", "VmHWM"); 0 if absent.
inline uint64_t status_kb(const std::string& field) {
  std::ifstream status{"/proc/self/status"};
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0)
      return std::stoull(line.substr(field.size() + 1));
  return 0;
}

/// How far this process's peak RSS rose above its RSS at the start while
/// `fn` ran, in kB. Resets the peak first (clear_refs 5), so what earlier
/// tests or allocator warm-up left behind does not count.
template <class F>
uint64_t peak_growth_kb(F&& fn) {
  std::ofstream{"/proc/self/clear_refs"} << "5";
  auto before = status_kb("VmRSS");
  REQUIRE(status_kb("VmHWM") <= before + 1024); // The reset took effect.
  fn();
  auto peak = status_kb("VmHWM");
  return peak > before ? peak - before : 0;
}

} // namespace labrt::test
