// Process control layer: real processes, real /proc. Never sleeps to
// synchronise: waits on pipes and pidfds with deadlines (timerfd). Here
// spawn (exit, exec failures, what the child gets) and the capture of its
// output; process trees and scripts are in test_process_tree.cpp.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "labrt/errc.hpp"
#include "src/output_capture.hpp"
#include "src/process.hpp"
#include "tests/proc_support.hpp"
#include "tests/spawn_support.hpp"

namespace fs = std::filesystem;
using namespace labrt;
using namespace labrt::test;

namespace {

void require_spawn_failed(const spawn_spec& spec, const std::string& needle) {
  auto c = spawn(spec);
  REQUIRE_FALSE(c);
  CHECK(code_of(c.error()) == errc::spawn_failed);
  INFO(render(c.error()));
  CHECK(message_of(c.error()).find(needle) != std::string::npos);
  CHECK(zombie_children().empty());
}

} // namespace

TEST_CASE("spawn reports exit codes", "[process]") {
  auto ok = run_to_end(script_spec("exit_with.sh", {"0"}));
  CHECK(ok.exit.exit_code == 0);
  CHECK(ok.exit.signal == 0);
  CHECK(ok.exit.signal_name.empty());
  auto seven = run_to_end(script_spec("exit_with.sh", {"7"}));
  CHECK(seven.exit.exit_code == 7);
  CHECK(seven.exit.signal == 0);
  CHECK(zombie_children().empty());
}

TEST_CASE("spawn reports death by SIGSEGV", "[process]") {
  auto r = run_to_end(script_spec("segv.sh"));
  CHECK(r.exit.exit_code == -1);
  CHECK(r.exit.signal == SIGSEGV);
  CHECK(r.exit.signal_name == "SIGSEGV");
}

TEST_CASE("exec failures come back as spawn_failed and leave no zombie",
          "[process]") {
  temp_dir dir;
  SECTION("missing script") {
    require_spawn_failed(script_spec("no-such-script.sh"), "no such file");
  }
  SECTION("not executable") {
    write_file(dir / "plain.sh", "#!/bin/sh\nexit 0\n", 0644);
    spawn_spec spec;
    spec.argv = {dir / "plain.sh"};
    require_spawn_failed(spec, "permission denied");
  }
  SECTION("bad interpreter") {
    write_file(dir / "bad.sh", "#!/nonexistent/interp -x\nexit 0\n", 0755);
    spawn_spec spec;
    spec.argv = {dir / "bad.sh"};
    require_spawn_failed(spec, "bad interpreter '/nonexistent/interp'");
  }
  SECTION("no #! line and not a binary") {
    write_file(dir / "junk", std::string("\x01\x02\x03junk", 7), 0755);
    spawn_spec spec;
    spec.argv = {dir / "junk"};
    require_spawn_failed(spec, "exec format error");
  }
  SECTION("command not in PATH") {
    spawn_spec spec;
    spec.argv = {"labrt-no-such-command"};
    require_spawn_failed(spec, "not found in PATH");
  }
  SECTION("missing working directory") {
    auto spec = script_spec("exit_with.sh");
    spec.cwd = dir / "nope";
    require_spawn_failed(spec, "cannot change to directory");
  }
  SECTION("malformed specs") {
    spawn_spec empty;
    auto c = spawn(empty);
    REQUIRE_FALSE(c);
    CHECK(code_of(c.error()) == errc::invalid_argument);
    auto spec = script_spec("exit_with.sh");
    spec.env["BAD=NAME"] = "x";
    c = spawn(spec);
    REQUIRE_FALSE(c);
    CHECK(code_of(c.error()) == errc::invalid_argument);
  }
}

TEST_CASE("the child gets exactly the allowlisted environment and the cookie",
          "[process]") {
  REQUIRE(::setenv("LABRT_TEST_ALLOWED", "yes", 1) == 0);
  REQUIRE(::setenv("LABRT_TEST_SECRET", "leak", 1) == 0);
  auto spec = script_spec("print_env.sh");
  spec.inherit_env = {"PATH", "LABRT_TEST_ALLOWED", "LABRT_TEST_UNSET_VAR"};
  spec.env = {{"FOO", "bar baz"}, {"LABRT_TEST_ALLOWED", "overridden"}};
  spec.cookie = "cookie-123";
  auto r = run_to_end(spec);
  CHECK(r.exit.exit_code == 0);
  CHECK(contains(r.out, "LABRT_TEST_ALLOWED=overridden"));
  CHECK(contains(r.out, "FOO=bar baz"));
  CHECK(contains(r.out, "LABRT_RUN_COOKIE=cookie-123"));
  CHECK(contains(r.out, std::string{"PATH="} + ::getenv("PATH")));
  for (auto& line : r.out) {
    CHECK(line.rfind("LABRT_TEST_SECRET=", 0) != 0);
    CHECK(line.rfind("LABRT_TEST_UNSET_VAR=", 0) != 0);
    CHECK(line.rfind("HOME=", 0) != 0);
  }
  // Only what we asked for (sh adds PWD).
  auto own = std::count_if(r.out.begin(), r.out.end(), [](auto& line) {
    return line.rfind("PWD=", 0) != 0;
  });
  CHECK(own == 4);
  ::unsetenv("LABRT_TEST_ALLOWED");
  ::unsetenv("LABRT_TEST_SECRET");
}

TEST_CASE("cwd, stdin, signal state and fds of the child", "[process]") {
  temp_dir dir;
  // A leaked fd (no O_CLOEXEC), an ignored and a blocked signal in the
  // parent: none of them may reach the test.
  int leaked = ::open("/dev/null", O_RDONLY);
  REQUIRE(leaked >= 0);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  struct sigaction old_pipe {};
  REQUIRE(::sigaction(SIGPIPE, &ign, &old_pipe) == 0);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigset_t old_mask;
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask) == 0);
  spawn_spec spec;
  spec.argv = {"pwd; readlink /proc/$$/fd/0; cat; echo \"cat done\"; "
               "test -e /proc/$$/fd/$1 && echo leaked || echo closed",
               std::to_string(leaked)};
  spec.use_shell = true;
  spec.cwd = dir.path;
  spec.inherit_env = {"PATH"};
  auto r = run_to_end(spec);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  ::close(leaked);
  CHECK(r.exit.exit_code == 0);
  REQUIRE(r.out.size() == 4);
  CHECK(r.out[0] == fs::canonical(dir.path).string());
  CHECK(r.out[1] == "/dev/null");
  CHECK(r.out[2] == "cat done"); // stdin at EOF at once
  CHECK(r.out[3] == "closed");
  CHECK(r.err.empty());
  // Signal state straight from an exec'd program (a shell blocks signals
  // while it waits for a command, which /proc would show).
  spawn_spec direct;
  direct.argv = {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"};
  direct.inherit_env = {"PATH"};
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask) == 0);
  REQUIRE(::sigaction(SIGPIPE, &ign, &old_pipe) == 0);
  auto r2 = run_to_end(direct);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  REQUIRE(r2.out.size() == 2);
  CHECK(r2.out[0] == "SigBlk:\t0000000000000000");
  CHECK(r2.out[1] == "SigIgn:\t0000000000000000");
}

TEST_CASE("the child leads its own session and process group", "[process]") {
  temp_dir dir;
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  auto c = spawn_ok(script_spec("tree.sh", {dir / "fifo"}));
  child_guard guard{c.pid};
  auto text = read_until(c.out_fd.get(), "ready\n");
  REQUIRE(text.find("ready\n") != std::string::npos);
  CHECK(c.pgid == c.pid);
  CHECK(::getpgid(c.pid) == c.pid);
  CHECK(::getsid(c.pid) == c.pid);
}

TEST_CASE("signal names", "[process]") {
  CHECK(signal_name(SIGKILL) == "SIGKILL");
  CHECK(signal_name(SIGTERM) == "SIGTERM");
  CHECK(signal_name(SIGRTMIN + 2) == "SIGRTMIN+2");
  auto segv = decode_wait_status(SIGSEGV); // as waitpid encodes a kill
  CHECK(segv.signal == SIGSEGV);
  CHECK(segv.signal_name == "SIGSEGV");
  auto three = decode_wait_status(3 << 8);
  CHECK(three.exit_code == 3);
  CHECK(decode_siginfo(CLD_DUMPED, SIGABRT).core_dumped);
}

TEST_CASE("output of both streams arrives as lines and in the log",
          "[process]") {
  temp_dir dir;
  auto r = run_to_end(script_spec("both_streams.sh"), dir / "log");
  CHECK(r.exit.exit_code == 0);
  CHECK(r.out == std::vector<std::string>{"out 1", "out 2", "out tail"});
  CHECK(r.err == std::vector<std::string>{"err 1", "err 2"});
  CHECK(r.cap.out_bytes == 20);
  CHECK(r.cap.err_bytes == 12);
  CHECK(r.cap.cut_bytes == 0);
  CHECK_FALSE(r.cap.stopped);
  auto log = slurp(dir / "log");
  CHECK(log.size() == 32);
  CHECK(r.cap.written_bytes == 32);
  for (auto s : {"out 1\n", "out 2\n", "err 1\n", "err 2\n", "out tail"})
    CHECK(log.find(s) != std::string::npos);
}

TEST_CASE("a flood on both streams stays bounded and does not deadlock",
          "[process]") {
  temp_dir dir;
  constexpr uint64_t flood = 60'000'000;
  constexpr uint64_t cap = 1 << 20;
  // A small flood first, so that one-time allocations are not growth.
  run_to_end(script_spec("flood.sh", {"6000000"}), dir / "warm", cap, 300);
  run_output r;
  [[maybe_unused]] auto growth_kb = peak_growth_kb([&] {
    r = run_to_end(script_spec("flood.sh", {std::to_string(flood)}),
                   dir / "log", cap, 300);
  });
  CHECK(r.exit.exit_code == 0);
  CHECK(r.cap.out_bytes == flood);
  CHECK(r.cap.err_bytes == flood);
  CHECK(r.cap.log_error.empty());
  auto marker = "\n[labrt: " + std::to_string(2 * flood - cap)
                + " bytes cut]\n";
  CHECK(r.cap.cut_bytes == 2 * flood - cap);
  auto size = fs::file_size(dir / "log");
  CHECK(size == cap + marker.size());
  CHECK(r.cap.written_bytes == size);
  auto log = slurp(dir / "log");
  CHECK(log.substr(cap / 2, marker.size()) == marker);
  // stdout: 100-byte lines; stderr: one 60 MB line cut to 64 KiB.
  CHECK(r.out_lines == flood / 100);
  CHECK(r.out.front().size() == 99);
  REQUIRE(r.err_lines == 1);
  auto cut_note = " [labrt: "
                  + std::to_string(flood - output_capture::default_max_line)
                  + " bytes cut]";
  CHECK(r.err[0].size() == output_capture::default_max_line + cut_note.size());
  CHECK(r.err[0].compare(output_capture::default_max_line, cut_note.size(),
                         cut_note)
        == 0);
// Sanitizers add shadow memory that dwarfs what is measured here.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // 120 MB went through; what is held at once is a pipe buffer's worth,
  // one capped line per stream and the 1000 lines the test keeps.
  INFO("peak RSS growth " << growth_kb << " kB");
  CHECK(growth_kb < 4 * 1024);
#endif
}

TEST_CASE("the output of a short run under the cap is complete", "[process]") {
  temp_dir dir;
  auto r = run_to_end(script_spec("flood.sh", {"3000"}), dir / "log", 10000);
  CHECK(r.cap.cut_bytes == 0);
  CHECK(fs::file_size(dir / "log") == 6000);
  // Exactly at the cap + 1: one byte cut.
  auto r2 = run_to_end(script_spec("flood.sh", {"3000"}), dir / "log2", 5999);
  CHECK(r2.cap.cut_bytes == 1);
  CHECK(fs::file_size(dir / "log2") == 5999 + std::string{"\n[labrt: 1 bytes cut]\n"}.size());
}

TEST_CASE("capture and wait can be interrupted", "[process]") {
  spawn_spec spec;
  spec.argv = {"sleep", "300"};
  spec.inherit_env = {"PATH"};
  auto c = spawn_ok(spec);
  child_guard guard{c.pid};
  auto cap = output_capture::make(std::move(c.out_fd), std::move(c.err_fd),
                                  {}, 1024, {});
  REQUIRE(cap);
  caf::expected<capture_result> res{capture_result{}};
  std::thread reader{[&] { res = (*cap)->run_until_eof(); }};
  (*cap)->stop();
  reader.join();
  REQUIRE(res);
  CHECK(res->stopped);
  // wait_exit returns on its stop fd without reaping.
  auto stop = deadline_after(0);
  itimerspec soon{};
  soon.it_value.tv_nsec = 1;
  REQUIRE(::timerfd_settime(stop.get(), 0, &soon, nullptr) == 0);
  auto ex = wait_exit(c.pidfd.get(), c.pid, stop.get());
  REQUIRE_FALSE(ex);
  CHECK(code_of(ex.error()) == errc::shutting_down);
  // Now really end it.
  CHECK_FALSE(send_signal(c.pidfd.get(), SIGKILL));
  ex = wait_exit(c.pidfd.get(), c.pid);
  REQUIRE(ex);
  guard.reaped = true;
  CHECK(ex->signal_name == "SIGKILL");
  // Gone: signalling it again is no error.
  CHECK_FALSE(send_signal(c.pidfd.get(), SIGTERM));
  CHECK_FALSE(signal_group_failed(c.pgid, SIGTERM));
}
