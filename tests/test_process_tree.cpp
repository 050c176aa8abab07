// Process trees and scripts: descendants and run members (escapees found by
// cookie), scripts kept inside their roots, and spawn running the very file
// it opened (part of test_process).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "labrt/errc.hpp"
#include "src/proc_tree.hpp"
#include "src/process.hpp"
#include "src/script_path.hpp"
#include "tests/proc_support.hpp"
#include "tests/spawn_support.hpp"

namespace fs = std::filesystem;
using namespace labrt;
using namespace labrt::test;

namespace {

/// Pids from lines like "child 123" or "setsid 123" with the given word.
std::vector<pid_t> pids_tagged(const std::vector<std::string>& lines,
                               const std::string& tag) {
  std::vector<pid_t> result;
  for (auto& line : lines)
    if (line.compare(0, tag.size() + 1, tag + " ") == 0)
      result.push_back(static_cast<pid_t>(std::stoi(line.substr(tag.size()))));
  return result;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    result.push_back(line);
  return result;
}

} // namespace

TEST_CASE("descendants and run_members see the process tree", "[process]") {
  temp_dir dir;
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  auto spec = script_spec("tree.sh", {dir / "fifo"});
  spec.cookie = "tree-cookie-" + std::to_string(::getpid());
  auto c = spawn_ok(spec);
  child_guard guard{c.pid};
  auto text = read_until(c.out_fd.get(), "ready\n");
  auto kids = pids_tagged(split_lines(text), "child");
  REQUIRE(kids.size() == 2);
  std::vector<unique_fd> kid_fds;
  for (auto kid : kids) {
    auto fd = pidfd_open(kid);
    REQUIRE(fd);
    kid_fds.emplace_back(*fd);
  }
  auto desc = descendants(c.pid);
  CHECK(desc == std::vector<pid_t>{std::min(kids[0], kids[1]),
                                   std::max(kids[0], kids[1])});
  auto members = run_members(c.pid, spec.cookie);
  CHECK(members.size() == 3);
  CHECK(contains(members, c.pid));
  CHECK(contains(members, kids[0]));
  CHECK(contains(members, kids[1]));
  CHECK(find_by_cookie(spec.cookie) == members);
  CHECK(find_by_cookie("").empty());
  CHECK(find_by_cookie("no-such-cookie").empty());
  // TERM to the whole group ends all three.
  CHECK_FALSE(signal_group_failed(c.pgid, SIGTERM));
  auto ex = wait_exit(c.pidfd.get(), c.pid);
  REQUIRE(ex);
  guard.reaped = true;
  CHECK(ex->signal_name == "SIGTERM");
  for (auto& fd : kid_fds)
    CHECK(wait_gone(fd.get()));
  // The subshells were the script's children: now orphans of init or of a
  // subreaper (us, if an earlier test set it); reaping is harmless either way.
  reap_children_nohang(kids);
  CHECK(run_members(c.pid, spec.cookie).empty());
  CHECK(zombie_children().empty());
}

TEST_CASE("run_members finds setsid and double-forked escapees by cookie",
          "[process]") {
  REQUIRE(subreaper);
  REQUIRE(set_child_subreaper());
  temp_dir dir;
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  auto spec = script_spec("escape.sh", {dir / "fifo"});
  spec.cookie = "escape-cookie-" + std::to_string(::getpid());
  auto r = run_to_end(spec);
  REQUIRE(r.exit.exit_code == 0);
  auto escaped = pids_tagged(r.out, "setsid");
  auto orphans = pids_tagged(r.out, "orphan");
  REQUIRE(escaped.size() == 1);
  REQUIRE(orphans.size() == 1);
  std::vector<pid_t> both{escaped[0], orphans[0]};
  std::vector<unique_fd> fds;
  for (auto pid : both) {
    auto fd = pidfd_open(pid);
    REQUIRE(fd);
    fds.emplace_back(*fd);
  }
  // The leader is gone (reaped by run_to_end); its escapees are not.
  auto members = run_members(0, spec.cookie);
  CHECK(members.size() == 2);
  CHECK(contains(members, escaped[0]));
  CHECK(contains(members, orphans[0]));
  // As subreaper we adopted both.
  for (auto pid : both) {
    proc_stat st;
    REQUIRE(read_proc_stat(pid, st));
    CHECK(st.ppid == ::getpid());
  }
  proc_stat st;
  REQUIRE(read_proc_stat(escaped[0], st));
  CHECK(st.pgrp == escaped[0]); // its own session and group
  CHECK(reap_children_nohang(both) == 0); // alive: nothing to reap
  CHECK(signal_pids(members, SIGKILL) == 2);
  for (auto& fd : fds)
    CHECK(wait_gone(fd.get()));
  CHECK(zombie_children().size() == 2);
  CHECK(reap_children_nohang(both) == 2);
  CHECK(zombie_children().empty());
  CHECK(run_members(0, spec.cookie).empty());
  CHECK(signal_pids(both, SIGKILL) == 0);
}

TEST_CASE("resolve_script keeps scripts inside the roots", "[process]") {
  temp_dir dir;
  fs::create_directories(dir / "root/sub");
  fs::create_directories(dir / "outside");
  write_file(dir / "root/ok.sh", "#!/bin/sh\n", 0755);
  write_file(dir / "root/sub/deep.sh", "#!/bin/sh\n", 0755);
  write_file(dir / "outside/secret.sh", "#!/bin/sh\n", 0755);
  fs::create_symlink("../outside/secret.sh", dir / "root/link_out.sh");
  fs::create_symlink("sub/deep.sh", dir / "root/link_in.sh");
  fs::create_symlink(dir / "outside", dir / "root/dir_out");
  auto root = dir / "root";
  auto real_root = fs::canonical(root).string();
  std::vector<std::string> roots{dir / "nonexistent-root", root};
  auto code = [&](const std::string& name) {
    auto r = resolve_script(roots, name);
    if (r)
      return errc{};
    INFO(render(r.error()));
    CHECK(message_of(r.error()).find(name) != std::string::npos);
    return code_of(r.error());
  };
  SECTION("inside") {
    CHECK(resolve_script(roots, "ok.sh") == real_root + "/ok.sh");
    CHECK(resolve_script(roots, "sub/deep.sh") == real_root + "/sub/deep.sh");
    CHECK(resolve_script(roots, "./sub/../ok.sh") == real_root + "/ok.sh");
    CHECK(resolve_script(roots, "link_in.sh") == real_root + "/sub/deep.sh");
    CHECK(resolve_script(roots, root + "/ok.sh") == real_root + "/ok.sh");
  }
  SECTION("outside") {
    CHECK(code("../outside/secret.sh") == errc::forbidden);
    CHECK(code("sub/../../outside/secret.sh") == errc::forbidden);
    CHECK(code(dir / "outside/secret.sh") == errc::forbidden);
    CHECK(code("/etc/passwd") == errc::forbidden);
    CHECK(code("link_out.sh") == errc::forbidden);
    CHECK(code("dir_out/secret.sh") == errc::forbidden);
    // Not revealing what exists outside.
    CHECK(code("../outside/missing.sh") == errc::forbidden);
  }
  SECTION("missing, directories, bad names") {
    CHECK(code("missing.sh") == errc::not_found);
    CHECK(code("sub/missing.sh") == errc::not_found);
    CHECK(code("sub") == errc::invalid_argument);
    CHECK(code(".") == errc::invalid_argument);
    CHECK(code_of(resolve_script(roots, "").error()) == errc::invalid_argument);
  }
  SECTION("symlinks are followed beneath the root, not by the kernel") {
    fs::create_symlink(real_root + "/sub", dir / "root/abs_in");
    fs::create_symlink("sub/../ok.sh", dir / "root/rel_up.sh");
    fs::create_symlink("loop", dir / "root/loop");
    CHECK(resolve_script(roots, "abs_in/deep.sh")
          == real_root + "/sub/deep.sh");
    CHECK(resolve_script(roots, "rel_up.sh") == real_root + "/ok.sh");
    CHECK(code("loop") == errc::not_found);
    CHECK(code("ok.sh/x") == errc::not_found);
    auto opened = open_script(roots, "abs_in/deep.sh");
    REQUIRE(opened);
    struct stat a;
    struct stat b;
    REQUIRE(::fstat(opened->fd.get(), &a) == 0);
    REQUIRE(::stat((dir / "root/sub/deep.sh").c_str(), &b) == 0);
    CHECK((a.st_dev == b.st_dev && a.st_ino == b.st_ino));
  }
  SECTION("no roots: any existing file") {
    CHECK(resolve_script({}, dir / "outside/secret.sh")
          == fs::canonical(dir / "outside/secret.sh").string());
    CHECK(code_of(resolve_script({}, dir / "nope.sh").error())
          == errc::not_found);
    CHECK(code_of(resolve_script({}, dir.path).error())
          == errc::invalid_argument);
  }
}

TEST_CASE("spawn runs the very file it opened, not what its path names now",
          "[process]") {
  temp_dir dir;
  write_file(dir / "who.sh",
             "#!/bin/sh\necho \"0=$0 1=$1\"\n"
             "echo \"comm=$(cat /proc/$$/comm)\"\n"
             "tr '\\0' ' ' </proc/$$/cmdline; echo\n",
             0755);
  auto opened = open_script({dir.path}, "who.sh");
  REQUIRE(opened);
  CHECK(opened->path == fs::canonical(dir / "who.sh").string());
  // Replaced after the check: the opened file still runs.
  write_file(dir / "other.sh", "#!/bin/sh\necho swapped\n", 0755);
  fs::rename(dir / "other.sh", dir / "who.sh");
  auto fd = std::to_string(opened->fd.get());
  spawn_spec spec;
  spec.argv = {opened->path, "arg"};
  spec.exec_fd = opened->fd.get();
  spec.inherit_env = {"PATH"};
  auto r = run_to_end(spec);
  CHECK(r.exit.exit_code == 0);
  REQUIRE(r.out.size() == 3);
  // The kernel hands a script run from a descriptor to its interpreter as
  // /dev/fd/N: that is $0 and the command line. comm is N before Linux 6.14
  // ("3", from the name /dev/fd/N) and the interpreter's name since then.
  CHECK(r.out[0] == "0=/dev/fd/" + fd + " 1=arg");
  auto shell = fs::canonical("/bin/sh").filename().string();
  CHECK((r.out[1] == "comm=" + fd || r.out[1] == "comm=" + shell));
  CHECK(r.out[2] == "/bin/sh /dev/fd/" + fd + " arg ");
  // A binary keeps argv[0] as given; its descriptor does not leak into it.
  spawn_spec bin;
  unique_fd ls{::open("/bin/ls", O_PATH | O_CLOEXEC)};
  REQUIRE(ls);
  bin.argv = {"/bin/ls", "/proc/self/fd"};
  bin.exec_fd = ls.get();
  auto r2 = run_to_end(bin);
  CHECK(r2.exit.exit_code == 0);
  CHECK(r2.out == std::vector<std::string>{"0", "1", "2", "3"}); // 3: ls's own
  bin.argv = {"/bin/cat", "/proc/self/comm", "/proc/self/cmdline"};
  unique_fd cat{::open("/bin/cat", O_PATH | O_CLOEXEC)};
  REQUIRE(cat);
  bin.exec_fd = cat.get();
  auto r3 = run_to_end(bin);
  REQUIRE(r3.out.size() == 2);
  CHECK((r3.out[0] == "cat" || r3.out[0] == std::to_string(cat.get())));
  auto cmdline
    = std::string{"/bin/cat\0/proc/self/comm\0/proc/self/cmdline", 44};
  CHECK(r3.out[1] == cmdline);
  CHECK(zombie_children().empty());
}
