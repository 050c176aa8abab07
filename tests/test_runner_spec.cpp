// What the test runner refuses and what it runs: scripts outside the roots,
// the checked file is the file run (even while its directory is swapped for
// a symlink), bounded specs, and the closed record of a start that cannot
// spawn.
#include "proc_support.hpp"
#include "runner_support.hpp"
#include "support.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using namespace labrt;
using namespace labrt::test;

namespace {

void write_script(const std::string& path, const std::string& text,
  mode_t mode = 0755) {
  std::ofstream{path} << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

/// The code of a refused start, or errc{} if it started.
errc start_code(fixture& f, const run_spec& spec) {
  auto r = f.runner().start(spec);
  if (r) {
    value_of(f.runner().wait(r->run_id, std::chrono::seconds{60}));
    return errc{};
  }
  INFO(render(r.error()));
  CHECK_FALSE(message_of(r.error()).empty());
  return code_of(r.error());
}

} // namespace

TEST_CASE("bad scripts are refused and leave test_execution unchanged",
  "[test_runner]") {
  fixture f;
  std::ofstream{f.dir / "root/plain.sh"} << "#!/bin/sh\nexit 0\n";
  ::chmod((f.dir / "root/plain.sh").c_str(), 0644);
  std::ofstream{f.dir / "root/badinterp.sh"} << "#!/no/such/interp\n";
  ::chmod((f.dir / "root/badinterp.sh").c_str(), 0755);
  std::ofstream{f.dir / "secret.sh"} << "#!/bin/sh\nexit 0\n";
  ::chmod((f.dir / "secret.sh").c_str(), 0755);
  fs::create_symlink(f.dir / "secret.sh", f.dir / "root/link_out.sh");
  auto before = value_of(f.cl->tests().metrics());
  auto code = [&](const std::string& script) {
    run_spec spec;
    spec.script = script;
    auto r = f.runner().start(spec);
    if (r)
      return errc{};
    INFO(render(r.error()));
    return code_of(r.error());
  };
  CHECK(code("missing.sh") == errc::not_found);
  CHECK(code("../secret.sh") == errc::forbidden);
  CHECK(code(f.dir / "secret.sh") == errc::forbidden);
  CHECK(code("link_out.sh") == errc::forbidden);
  CHECK(code("/etc/passwd") == errc::forbidden);
  CHECK(code("sub/../../secret.sh") == errc::forbidden);
  CHECK(code("") == errc::invalid_argument);
  // Refused before the slot is taken: test_execution saw nothing.
  auto after = value_of(f.cl->tests().metrics());
  CHECK(after["revision"] == before["revision"]);
  // An exec failure is known only at the spawn, once the run holds the
  // slot: it is freed again, with the reason, and a clear message.
  CHECK(code("plain.sh") == errc::spawn_failed);
  run_spec spec;
  spec.script = "badinterp.sh";
  auto r = f.runner().start(spec);
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == errc::spawn_failed);
  CHECK(message_of(r.error()).find("bad interpreter") != std::string::npos);
  auto state = value_of(f.cl->tests().get_state());
  CHECK(state["running"] == false);
  CHECK(state["pid"].is_null());
  CHECK(state["error"].get<std::string>().find("bad interpreter")
        != std::string::npos);
  CHECK(zombie_children().empty());
  // The runner is idle again: a good script runs.
  CHECK(f.run_to_end("exit_with.sh", {"3"}).exit_code == 3);
}

TEST_CASE("a directory swapped for a symlink out of the root never runs the "
          "outside script",
  "[test_runner]") {
  fixture f;
  auto root = f.dir / "root";
  auto marker = f.dir / "escaped";
  fs::create_directories(root + "/sw");
  fs::create_directories(f.dir / "outside");
  write_script(root + "/sw/t.sh", "#!/bin/sh\necho inside\n");
  write_script(f.dir / "outside/t.sh",
    "#!/bin/sh\ntouch '" + marker + "'\necho outside\n");
  fs::create_directory_symlink(f.dir / "outside", root + "/swl");
  auto real_root = fs::canonical(root).string();
  // Swaps root/sw (the directory) and root/swl (the symlink out) as fast as
  // it can while the starts go on: each check and exec meets either.
  std::atomic<bool> done{false};
  std::atomic<uint64_t> flips{0};
  std::thread flipper{[&] {
    auto a = root + "/sw";
    auto b = root + "/swl";
    while (!done.load()) {
      if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE)
        == 0)
        ++flips;
    }
  }};
  int ran = 0;
  int refused = 0;
  // 200 starts, more if fewer than 10 of them got past both checks.
  for (int i = 0; i < 2000 && (i < 200 || ran < 10); ++i) {
    run_spec spec;
    spec.script = "sw/t.sh";
    auto r = f.runner().start(spec);
    if (!r) {
      INFO(render(r.error()));
      CHECK(code_of(r.error()) == errc::forbidden);
      ++refused;
      continue;
    }
    auto rec = value_of(f.runner().wait(r->run_id, std::chrono::seconds{60}));
    ++ran;
    INFO("run " << rec.run_id << " path " << rec.path);
    CHECK(rec.exit_code == 0);
    // The record names the file that ran (its directory may have been
    // renamed to swl by the time the path was read: still the same file).
    CHECK((rec.path == real_root + "/sw/t.sh"
      || rec.path == real_root + "/swl/t.sh"));
    CHECK(rec.path == r->path);
    CHECK(slurp(rec.log) == "inside\n");
  }
  done = true;
  flipper.join();
  // Refused by the watcher's check, after the runner's had passed.
  size_t at_spawn = 0;
  for (auto& rec : value_of(f.runner().history(1000)))
    at_spawn += rec.state == run_state::failed ? 1 : 0;
  INFO("ran " << ran << ", refused " << refused << " (at the spawn "
              << at_spawn << "), flips " << flips);
  CHECK_FALSE(fs::exists(marker));
  CHECK(ran > 0);
  CHECK(flips > 0);
  CHECK(zombie_children().empty());
}

TEST_CASE("a script in the root runs with its name in LABRT_SCRIPT",
  "[test_runner]") {
  fixture f;
  auto root = f.dir / "root";
  fs::create_directories(root + "/sub");
  write_script(root + "/sub/env.sh", "#!/bin/sh\necho \"$LABRT_SCRIPT\"\n");
  // Symlinks that stay inside the root, relative and absolute, still run.
  fs::create_symlink("sub/env.sh", root + "/rel.sh");
  fs::create_symlink(root + "/sub/env.sh", root + "/abs.sh");
  auto real = fs::canonical(root + "/sub/env.sh").string();
  for (auto name : {"sub/env.sh", "rel.sh", "abs.sh"}) {
    INFO(name);
    auto rec = f.run_to_end(name);
    CHECK(rec.exit_code == 0);
    CHECK(rec.path == real);
    CHECK(slurp(rec.log) == real + "\n");
  }
  // With use_shell, /bin/sh reads the opened file (no exec bit needed).
  write_script(root + "/sub/plain.sh", "echo \"$LABRT_SCRIPT\"\n", 0644);
  run_spec shell;
  shell.script = "sub/plain.sh";
  shell.use_shell = true;
  auto rec = value_of(f.runner().start(shell));
  rec = value_of(f.runner().wait(rec.run_id, std::chrono::seconds{60}));
  CHECK(rec.exit_code == 0);
  auto plain = fs::canonical(root + "/sub/plain.sh").string();
  CHECK(slurp(rec.log) == plain + "\n");
}

TEST_CASE("timeout_ms must be an integer from 0 to 30 days", "[test_runner]") {
  auto spec_of = [](const std::string& timeout) {
    return json::parse(R"({"script": "x.sh", "timeout_ms": )" + timeout + "}")
      .get<run_spec>();
  };
  CHECK(spec_of("0").timeout_ms == 0);
  CHECK(spec_of("-1").timeout_ms == -1);
  CHECK(spec_of("2592000000").timeout_ms == run_limits::max_timeout_ms);
  for (auto bad : {"1.5", "9223372036854775807", "9223372036854",
         "18446744073709551615", "2592000001", "-2", "\"5\"", "null"}) {
    INFO(bad);
    try {
      spec_of(bad);
      FAIL("accepted");
    } catch (const json::exception& ex) {
      CHECK(std::string{ex.what()}.find("timeout_ms") != std::string::npos);
    }
  }
  // From C++: refused before anything starts or is recorded.
  fixture f;
  auto before = value_of(f.cl->tests().metrics());
  for (int64_t bad : {int64_t{9223372036854}, INT64_MAX, int64_t{-2},
         run_limits::max_timeout_ms + 1}) {
    INFO(bad);
    run_spec spec;
    spec.script = "exit_with.sh";
    spec.timeout_ms = bad;
    auto r = f.runner().start(spec);
    REQUIRE_FALSE(r);
    CHECK(code_of(r.error()) == errc::invalid_argument);
    CHECK(message_of(r.error()).find("timeout_ms") != std::string::npos);
    CHECK(error_of(f.runner().enqueue(spec)) == errc::invalid_argument);
  }
  CHECK(value_of(f.runner().history(10)).empty());
  CHECK(value_of(f.runner().queue()).empty());
  CHECK(value_of(f.cl->tests().metrics())["revision"] == before["revision"]);
}

TEST_CASE("specs over the limits are refused and change nothing",
  "[test_runner]") {
  fixture f;
  auto before = value_of(f.cl->tests().metrics());
  auto refused = [&](run_spec spec, const std::string& needle) {
    spec.script = "exit_with.sh";
    INFO(needle);
    auto r = f.runner().start(spec);
    REQUIRE_FALSE(r);
    CHECK(code_of(r.error()) == errc::invalid_argument);
    INFO(render(r.error()));
    CHECK(message_of(r.error()).find(needle) != std::string::npos);
  };
  run_spec many;
  many.args.assign(run_limits::max_args + 1, "x");
  refused(many, "too many args");
  run_spec big;
  big.args.assign(2, std::string(run_limits::max_args_bytes / 2 + 1, 'x'));
  refused(big, "args hold");
  run_spec envs;
  for (size_t i = 0; i <= run_limits::max_env; ++i)
    envs.env["V" + std::to_string(i)] = "1";
  refused(envs, "too many env");
  run_spec env_big;
  env_big.env["BIG"] = std::string(run_limits::max_env_bytes, 'x');
  refused(env_big, "env holds");
  run_spec text;
  text.bin = std::string(run_limits::max_text_bytes + 1, 'b');
  refused(text, "bin is longer");
  CHECK(value_of(f.runner().history(10)).empty());
  CHECK(value_of(f.cl->tests().metrics())["revision"] == before["revision"]);
  // At the limits, a run goes.
  run_spec full;
  full.script = "exit_with.sh";
  full.args.assign(run_limits::max_args, "x");
  full.args[0] = "0";
  auto rec = value_of(f.runner().start(full));
  rec = value_of(f.runner().wait(rec.run_id, std::chrono::seconds{60}));
  CHECK(rec.exit_code == 0);
  CHECK(rec.args.size() == run_limits::max_args);
}

TEST_CASE("a start that cannot spawn leaves nothing or a closed record",
  "[test_runner]") {
  fixture f;
  write_script(f.dir / "root/plain.sh", "#!/bin/sh\nexit 0\n", 0644);
  auto before = value_of(f.cl->tests().metrics());
  // Bad input is refused before anything is recorded.
  run_spec bad_env;
  bad_env.script = "exit_with.sh";
  bad_env.env["A=B"] = "1";
  CHECK(start_code(f, bad_env) == errc::invalid_argument);
  run_spec nul_arg;
  nul_arg.script = "exit_with.sh";
  nul_arg.args = {std::string{"a\0b", 3}};
  CHECK(start_code(f, nul_arg) == errc::invalid_argument);
  CHECK(value_of(f.runner().history(10)).empty());
  CHECK(value_of(f.cl->tests().metrics())["revision"] == before["revision"]);
  // A file that cannot be executed fails at the spawn: a closed record.
  run_spec plain;
  plain.script = "plain.sh";
  CHECK(start_code(f, plain) == errc::spawn_failed);
  auto hist = value_of(f.runner().history(10));
  REQUIRE(hist.size() == 1);
  json rec = hist[0];
  INFO(rec.dump());
  CHECK(rec["state"] == "failed");
  CHECK(rec["ended_at"].is_string());
  CHECK(rec["error"].get<std::string>().find("permission denied")
    != std::string::npos);
  // It held test_execution's slot from before the spawn and freed it.
  CHECK(value_of(f.cl->tests().metrics())["revision"] != before["revision"]);
  CHECK(value_of(f.cl->tests().is_running()) == false);
  CHECK(value_of(f.cl->tests().get_state())["run_id"] == rec["run_id"]);
  CHECK(zombie_children().empty());
}
