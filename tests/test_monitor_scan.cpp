// The pass over /proc without a runtime: pids that vanish or are reused, a pass
// shared out among threads, the exe cache across an exec, and the rules that
// are refused (part of test_monitor).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <list>
#include <string>
#include <vector>

#include "actors/monitor.hpp"
#include "labrt/ps.hpp"
#include "src/proc_scan.hpp"
#include "src/proc_stat.hpp"
#include "src/scan_pool.hpp"
#include "src/service_rules.hpp"
#include "tests/monitor_support.hpp"
#include "tests/proc_support.hpp"
#include "tests/support.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;

TEST_CASE("a pid that vanishes mid-scan is skipped, a reused pid is a new "
          "process",
  "[monitor]") {
  temp_dir dir;
  auto exe = copy_sleep(dir, "qsfp_service");
  rule_set rules;
  REQUIRE_FALSE(rules.add(comm_rule("qsfp_service", "qsfp_service"), 7));
  proc live{{exe, "1000"}};
  pid_t dead;
  {
    proc gone{{exe, "1000"}};
    dead = gone.pid();
  } // killed and reaped: its /proc entry is gone
  auto scan = scan_pids(rules, {dead, live.pid(), 999999999, ::getpid()});
  CHECK(scan.scanned == 4);
  REQUIRE(scan.services.size() == 1);
  CHECK(scan.services[0].rule_id == 7);
  REQUIRE(scan.services[0].procs.size() == 1);
  auto& entry = scan.services[0].procs[0];
  CHECK(entry.id.pid == live.pid());
  proc_stat ident;
  REQUIRE(read_proc_stat(live.pid(), ident));
  CHECK(entry.id.start_ticks == ident.start_ticks);
  // Through the files the periodic passes keep open: a process that died
  // since the last pass is not found, the live one still is.
  proc_cache cache;
  {
    proc later{{exe, "1000"}};
    std::vector<pid_t> both{live.pid(), later.pid()};
    CHECK(scan_pids(rules, both, &cache).services.at(0).procs.size() == 2);
    CHECK(cache.open_fds() >= 2);
    later.kill();
    later.reap();
    auto again = scan_pids(rules, both, &cache);
    REQUIRE(again.services.at(0).procs.size() == 1);
    CHECK(again.services[0].procs[0].id.pid == live.pid());
  }
  // The monitor's state under races, without actors.
  monitor_state st;
  auto added = value_of(st.add_rule(comm_rule("qsfp_service", "qsfp_service")));
  auto id = added.second;
  auto at
    = [](int ms) { return caf::timestamp{std::chrono::milliseconds{ms}}; };
  auto result_of = [&](int started_ms, std::vector<proc_id> ids) {
    scan_result r;
    r.started = at(started_ms);
    service_procs sp{"qsfp_service", id, {}};
    for (auto& pid : ids)
      sp.procs.push_back(proc_entry{pid, at(1), "qsfp_service 1"});
    r.services.push_back(sp);
    return r;
  };
  auto recs = st.apply_scan(result_of(10, {{4242, 1}}));
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].running);
  CHECK(st.watch_diff().first == std::vector<proc_id>{{4242, 1}});
  recs = st.apply_exits(proc_exits{at(20), {{4242, 1}}});
  REQUIRE(recs.size() == 1);
  CHECK_FALSE(recs[0].running);
  // A scan that began before the exit still lists it: no revival.
  CHECK(st.apply_scan(result_of(15, {{4242, 1}})).empty());
  // The pid is reused by a new process (another start time): running again.
  recs = st.apply_scan(result_of(30, {{4242, 2}}));
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].running);
  CHECK(recs[0].pids == std::vector<int32_t>{4242});
  auto diff = st.watch_diff();
  CHECK(diff.first == std::vector<proc_id>{{4242, 2}});
  CHECK(diff.second.empty()); // {4242, 1} left the watch set with its exit
  // A result for a replaced rule is ignored.
  REQUIRE(st.add_rule(comm_rule("qsfp_service", "other")));
  CHECK(st.apply_scan(result_of(40, {})).empty());
}

TEST_CASE("a pass shared out among threads finds what one thread finds",
  "[monitor]") {
  temp_dir dir;
  auto exe = copy_sleep(dir, "qsfp_service");
  rule_set rules;
  REQUIRE_FALSE(rules.add(comm_rule("qsfp_service", "qsfp_service"), 1));
  REQUIRE_FALSE(rules.add(exe_rule("by_exe", exe), 2));
  REQUIRE_FALSE(
    rules.add({"by_cmdline", match_kind::cmdline, "qsfp_service 100[0-9]"}, 3));
  std::list<proc> procs; // procs neither copy nor move
  for (int i = 0; i < 6; ++i)
    procs.emplace_back(std::vector<std::string>{exe, std::to_string(1000 + i)});
  // Ours only: a process elsewhere that forked without exec would have its
  // exe link read on every pass.
  std::vector<pid_t> pids{::getpid(), 999999999};
  for (auto& p : procs)
    pids.push_back(p.pid());
  std::sort(pids.begin(), pids.end());
  auto one = scan_pids(rules, pids);
  auto ids = [](const service_procs& s) {
    std::vector<proc_id> result;
    for (auto& p : s.procs)
      result.push_back(p.id);
    return result;
  };
  scan_pool pool{3, 3 * 64, 0}; // split however few the pids
  REQUIRE(pool.threads() == 3);
  for (int pass = 0; pass < 2; ++pass) {
    auto many = pool.scan(rules, pids);
    CHECK(many.scanned == one.scanned);
    REQUIRE(many.services.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
      CHECK(many.services[i].rule_id == one.services[i].rule_id);
      CHECK(many.services[i].procs.size() == 6);
      CHECK(ids(many.services[i]) == ids(one.services[i]));
    }
  }
  // Each pid stays with its thread: the second pass read no exe link again.
  auto reads = pool.exe_reads();
  pool.scan(rules, pids);
  CHECK(pool.exe_reads() == reads);
  CHECK(pool.open_fds() > 0);
}

TEST_CASE("a scan thread that got no process in a pass keeps no fd, not even "
          "/proc's",
  "[monitor]") {
  // Directory fds of /proc itself this process holds.
  auto proc_dirs = [] {
    size_t n = 0;
    for (auto& fd : fs::directory_iterator{"/proc/self/fd"}) {
      std::error_code ec;
      if (fs::read_symlink(fd.path(), ec) == "/proc")
        ++n;
    }
    return n;
  };
  rule_set rules;
  REQUIRE_FALSE(rules.add(comm_rule("qsfp_service", "qsfp_service"), 1));
  auto before = proc_dirs();
  scan_pool pool{2, 2 * 64, 4};
  auto pids = list_pids();
  REQUIRE(pids.size() >= 4);
  pool.scan(rules, pids); // Split: both threads read /proc.
  CHECK(proc_dirs() == before + 2);
  pool.scan(rules, {::getpid()}); // Too few to split: the first only.
  CHECK(proc_dirs() == before + 1);
}

TEST_CASE("invalid rules are refused with a clear error", "[monitor]") {
  auto refused = [](const char* text, const std::string& needle) {
    auto cfg = parse_monitor_config(json::parse(text));
    INFO(text);
    REQUIRE_FALSE(cfg);
    CHECK(code_of(cfg.error()) == errc::invalid_argument);
    INFO(message_of(cfg.error()));
    CHECK(message_of(cfg.error()).find(needle) != std::string::npos);
  };
  refused(R"({"services": [{"name": "a", "match": {"comm": ""}}]})",
    "services[0] is invalid: service 'a': empty comm pattern");
  refused(R"({"services": [{"name": "a", "match": {"cmdline": "foo("}}]})",
    "services[0] is invalid: service 'a': invalid cmdline regex 'foo('");
  refused(R"({"services": [{"name": "a", "match": {"pid": "1"}}]})",
    "services[0] is invalid: match: unknown kind 'pid' (comm, exe or cmdline)");
  refused(
    R"({"services": [{"name": "a", "match": {"comm": "x", "exe": "/x"}}]})",
    "exactly one of comm, exe, cmdline");
  refused(R"({"services": [{"name": "a", "nmae": 1, "match": {"comm": "x"}}]})",
    "services[0] is invalid: unknown key 'nmae'");
  refused(R"({"services": [{"name": "", "match": {"comm": "x"}}]})",
    "service name must not be empty");
  refused(
    R"({"services": [{"name": "a", "match": {"comm": "sai_mono_link_test"}}]})",
    "longer than the kernel's 15 characters");
  refused(R"({"services": [{"name": "a", "match": {"exe": "bin/x"}}]})",
    "must be an absolute path");
  refused(R"({"services": [{"name": "a", "match": {"comm": "x"}},
                           {"name": "a", "match": {"comm": "y"}}]})",
    "services[1] repeats the service name 'a'");
  refused(R"({"services": {"name": "a"}})", "services must be an array");
  refused(R"({"monitor": {"interval_ms": 0}})", "monitor.interval_ms");
  refused(R"({"monitor": {"intervall_ms": 10}})",
    "monitor.intervall_ms is not a known setting");
  // A good document, with other sections left alone.
  auto good = parse_monitor_config(json::parse(R"({"name": "lab-a",
    "services": [{"name": "qsfp_service", "match": {"comm": "qsfp_service"}},
                 {"name": "sai_mono_link_test-sai_impl",
                  "match": {"cmdline": "sai_mono_link_test.*sai_impl"}}],
    "monitor": {"interval_ms": 500}, "runner": {"whatever": 1}})"));
  REQUIRE(good);
  CHECK(good->interval_ms == 500);
  REQUIRE(good->services.size() == 2);
  CHECK(good->services[1].kind == match_kind::cmdline);
  CHECK(json(good->services[0])
    == json::parse(
      R"({"name": "qsfp_service", "match": {"comm": "qsfp_service"}})"));
  // The runtime and the monitor refuse bad rules too.
  auto bad = service_rule{"a", match_kind::cmdline, "[oops"};
  auto rt_bad = runtime::make(monitor_config_with({bad}, 1000));
  REQUIRE_FALSE(rt_bad);
  CHECK(code_of(rt_bad.error()) == errc::invalid_argument);
  auto rt = start_runtime(monitor_config_with({}, 1000));
  caf::scoped_actor self{rt->system()};
  auto added = ask<bool>(self, rt->monitor(), atom::add_v, bad);
  REQUIRE_FALSE(added);
  CHECK(code_of(added.error()) == errc::invalid_argument);
  CHECK(message_of(added.error()).find("invalid cmdline regex")
    != std::string::npos);
  CHECK(error_of(scan_services({bad})) == errc::invalid_argument);
}

TEST_CASE("an exe path is read once per process image, again after an exec",
  "[monitor]") {
  temp_dir dir;
  // Two shells with the same name: the exec keeps pid, start time and comm.
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  auto a = copy_program(dir, "a/qsfp_service", "/bin/sh");
  auto b = copy_program(dir, "b/qsfp_service", "/bin/sh");
  auto fifo = dir / "go";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Held open (read and write) until the end: the shells' opens never block
  // and the second one waits in read.
  unique_fd go{::open(fifo.c_str(), O_RDWR | O_CLOEXEC)};
  REQUIRE(go);
  proc p{{a, "-c",
    R"(echo one; read x < "$0"; exec "$1" -c 'echo two; read y < "$0"' "$0")",
    fifo, b}};
  rule_set rules;
  REQUIRE_FALSE(rules.add(exe_rule("first", a)));
  REQUIRE_FALSE(rules.add(exe_rule("second", b)));
  proc_cache cache;
  REQUIRE(read_line(p.ch.out_fd.get()) == "one");
  auto before = scan_pids(rules, {p.pid()}, &cache);
  CHECK(before.services.at(0).procs.size() == 1);
  CHECK(before.services.at(1).procs.empty());
  auto reads = cache.exe_reads();
  CHECK(reads == 1);
  // The same process image: the link is not read again.
  CHECK(scan_pids(rules, {p.pid()}, &cache).services.at(0).procs.size() == 1);
  CHECK(cache.exe_reads() == reads);
  proc_stat first;
  REQUIRE(read_proc_stat(p.pid(), first));
  REQUIRE(::write(go.get(), "go\n", 3) == 3);
  REQUIRE(read_line(p.ch.out_fd.get()) == "two");
  proc_stat second;
  REQUIRE(read_proc_stat(p.pid(), second));
  CHECK(second.comm == first.comm);
  CHECK(second.start_ticks == first.start_ticks);
  // The exec is seen at the next pass.
  auto after = scan_pids(rules, {p.pid()}, &cache);
  CHECK(after.services.at(0).procs.empty());
  REQUIRE(after.services.at(1).procs.size() == 1);
  CHECK(after.services.at(1).procs[0].cmdline
    == b + " -c echo two; read y < \"$0\" " + fifo);
  CHECK(cache.exe_reads() == reads + 1);
  // A fresh pass without the cache agrees.
  auto cold = scan_pids(rules, {p.pid()});
  CHECK(cold.services.at(0).procs.empty());
  CHECK(cold.services.at(1).procs.size() == 1);
}
