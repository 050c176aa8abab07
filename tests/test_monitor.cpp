// The service monitor with real processes and the real /proc: a copy of
// /bin/sleep named qsfp_service plays the watched daemon. Here the monitor
// in a runtime (records, events, rules at run time, the facade); the pass
// over /proc, its cache and the rules on their own are in
// test_monitor_scan.cpp (one executable).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "labrt/client.hpp"
#include "labrt/ps.hpp"
#include "src/proc_scan.hpp"
#include "src/proc_stat.hpp"
#include "src/scan_pool.hpp"
#include "src/process.hpp"
#include "src/regex_text.hpp"
#include "src/service_rules.hpp"
#include "tests/monitor_support.hpp"
#include "tests/proc_support.hpp"
#include "tests/support.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;

namespace {

/// A runtime whose monitor watches a copy of sleep named qsfp_service every
/// `interval_ms`, and an actor subscribed to its service manager.
struct watched_qsfp {
  temp_dir dir;
  std::string exe = copy_sleep(dir, "qsfp_service");
  std::unique_ptr<runtime> rt;
  std::optional<caf::scoped_actor> self;

  explicit watched_qsfp(int64_t interval_ms = 200)
    : rt(start_runtime(
        monitor_config_with({exe_rule("qsfp_service", exe)}, interval_ms))) {
    self.emplace(rt->system());
    subscribe(*self, rt->services());
  }
};

} // namespace

TEST_CASE("a watched service is seen within one interval, its death within "
          "100 ms",
  "[monitor]") {
  constexpr int64_t interval_ms = 300;
  watched_qsfp lab{interval_ms};
  auto& exe = lab.exe;
  auto& rt = lab.rt;
  auto& self = *lab.self;
  // The first pass reports it down.
  wait_record(
    self, "qsfp_service", [](const service_record& r) { return !r.running; });
  auto t0 = clock_type::now();
  auto wall0 = caf::make_timestamp();
  proc p{{exe, "1000"}};
  auto [up, seen_at] = wait_record(
    self, "qsfp_service", [&](auto& r) { return has_pids(r, {p.pid()}); });
  CHECK(seen_at - t0 <= std::chrono::milliseconds{interval_ms + 200});
  CHECK(up.cmdline == exe + " 1000");
  // since = the process's start time (clock-tick precision).
  CHECK(up.since >= wall0 - std::chrono::seconds{1});
  CHECK(up.since <= caf::make_timestamp());
  CHECK(value_of(ask<bool>(
    self, rt->services(), atom::is_running_v, std::string{"qsfp_service"})));
  auto t_kill = clock_type::now();
  p.kill(); // not reaped yet: a zombie until the test reaps it
  auto [down, down_at]
    = wait_record(self, "qsfp_service", [](auto& r) { return !r.running; });
  auto latency = down_at - t_kill;
  INFO("death seen after "
    << std::chrono::duration_cast<std::chrono::microseconds>(latency).count()
    << " us");
  CHECK(latency < std::chrono::milliseconds{100});
  CHECK(down.pids.empty());
  p.reap();
  CHECK_FALSE(value_of(ask<bool>(
    self, rt->services(), atom::is_running_v, std::string{"qsfp_service"})));
}

TEST_CASE("two instances give two pids", "[monitor]") {
  watched_qsfp lab;
  auto& exe = lab.exe;
  auto& self = *lab.self;
  proc a{{exe, "1000"}};
  proc b{{exe, "1001"}};
  std::vector<int32_t> both{a.pid(), b.pid()};
  std::sort(both.begin(), both.end());
  auto [rec, at] = wait_record(
    self, "qsfp_service", [&](auto& r) { return has_pids(r, both); });
  (void)at;
  CHECK(rec.cmdline == exe + (both.front() == a.pid() ? " 1000" : " 1001"));
  // One dies: still running, since unchanged, one pid left.
  b.kill();
  auto [one, at2] = wait_record(
    self, "qsfp_service", [&](auto& r) { return has_pids(r, {a.pid()}); });
  (void)at2;
  CHECK(one.since == rec.since);
  a.kill();
  wait_record(self, "qsfp_service", [](auto& r) { return !r.running; });
}

TEST_CASE("a zombie named qsfp_service is not running", "[monitor]") {
  watched_qsfp lab;
  auto& exe = lab.exe;
  auto& self = *lab.self;
  // Orphans re-parent to this process, so that the test can reap the zombie
  // once its parent is gone (PID 1 here does not reap promptly).
  REQUIRE(set_child_subreaper());
  // A parent that never reaps: the shell forks qsfp_service, then becomes
  // a plain sleep that never calls wait().
  spawn_spec spec;
  spec.use_shell = true;
  spec.argv = {"\"$1\" 1000 & echo $!; exec /bin/sleep 1000", exe};
  proc parent{spec};
  auto zombie = read_pid_line(parent.ch.out_fd.get());
  wait_record(
    self, "qsfp_service", [&](auto& r) { return has_pids(r, {zombie}); });
  auto t_kill = clock_type::now();
  ::kill(zombie, SIGKILL);
  auto [down, at]
    = wait_record(self, "qsfp_service", [](auto& r) { return !r.running; });
  CHECK(at - t_kill < std::chrono::milliseconds{100});
  // It is a zombie indeed, and a fresh pass over /proc skips it.
  proc_stat ident;
  REQUIRE(read_proc_stat(zombie, ident));
  CHECK(ident.state == 'Z');
  CHECK(ident.comm == "qsfp_service");
  auto recs = value_of(
    ask<std::vector<service_record>>(self, lab.rt->monitor(), atom::scan_v));
  REQUIRE(recs.size() == 1);
  CHECK_FALSE(recs[0].running);
  auto once = value_of(scan_services({exe_rule("qsfp_service", exe)}));
  REQUIRE(once.size() == 1);
  CHECK_FALSE(once[0].running);
  // By name too: its comm still reads qsfp_service, its state Z.
  rule_set by_name;
  REQUIRE_FALSE(by_name.add(comm_rule("qsfp_service", "qsfp_service")));
  CHECK(scan_pids(by_name, {zombie}).services.at(0).procs.empty());
  // Clean up: with its parent gone the zombie is ours to reap.
  parent.kill();
  parent.reap();
  int status = 0;
  CHECK(::waitpid(zombie, &status, 0) == zombie);
}

TEST_CASE("a cmdline regex rule matches like pgrep -f", "[monitor]") {
  temp_dir dir;
  auto exe = copy_sleep(dir, "qsfp_service");
  auto rt = start_runtime(monitor_config_with(
    // This test's temp dir in the regex keeps other runs' processes out.
    {service_rule{"sai_mono_link_test-sai_impl", match_kind::cmdline,
       fs::path{dir.path}.filename().string() + "/qsfp_service 12345[0-9]+$"},
      service_rule{"absent", match_kind::cmdline, "^no-such-program( |$)"}},
    200));
  caf::scoped_actor self{rt->system()};
  subscribe(self, rt->services());
  proc other{{exe, "99"}};
  proc p{{exe, "1234567"}};
  auto [rec, at] = wait_record(
    self, "sai_mono_link_test-sai_impl", [&](auto& r) { return r.running; });
  (void)at;
  CHECK(rec.pids == std::vector<int32_t>{p.pid()});
  CHECK(rec.cmdline == exe + " 1234567");
  auto absent = value_of(ask<service_record>(
    self, rt->services(), atom::describe_v, std::string{"absent"}));
  CHECK_FALSE(absent.running);
  // Rules with and without a usable literal, matched in one pass.
  rule_set set;
  REQUIRE_FALSE(set.add({"alt", match_kind::cmdline, "nothing|qsfp_serv"}));
  REQUIRE_FALSE(set.add({"lit", match_kind::cmdline, "service 12345"}));
  REQUIRE_FALSE(set.add({"miss", match_kind::cmdline, "service 99999"}));
  std::string text = exe + " 1234567";
  std::vector<size_t> hits;
  set.match_cmdline(text, hits);
  CHECK(hits == std::vector<size_t>{0, 1});
  // The prefilter literal never makes a match fail.
  CHECK(required_literal("qsfp_service 12345[0-9]+$") == "qsfp_service 12345");
  CHECK(required_literal("a|b").empty());
  CHECK(required_literal("(a|b)|cdef").empty());
  CHECK(required_literal("svc_000( |$)") == "svc_000");
  CHECK(required_literal("[|]abcd|x").empty());
  CHECK(required_literal("ab?cd") == "cd");
  CHECK(required_literal("(x[)]y)zz") == "zz");
}

TEST_CASE("services are added and removed at run time", "[monitor]") {
  temp_dir dir;
  auto exe = copy_sleep(dir, "qsfp_service");
  auto rt = start_runtime(monitor_config_with({}, 200));
  caf::scoped_actor self{rt->system()};
  subscribe(self, rt->services());
  proc p{{exe, "1000"}};
  auto rule = exe_rule("qsfp_service", exe);
  CHECK(value_of(ask<bool>(self, rt->monitor(), atom::add_v, rule)));
  // The reply comes after the first scan was reported.
  auto rec = value_of(ask<service_record>(
    self, rt->services(), atom::describe_v, std::string{"qsfp_service"}));
  CHECK(has_pids(rec, {p.pid()}));
  auto rules = value_of(
    ask<std::vector<service_rule>>(self, rt->monitor(), atom::list_v));
  CHECK(rules == std::vector<service_rule>{rule});
  // Same name again: replaced, not new.
  CHECK_FALSE(value_of(ask<bool>(self, rt->monitor(), atom::add_v, rule)));
  CHECK(value_of(ask<bool>(
    self, rt->monitor(), atom::erase_v, std::string{"qsfp_service"})));
  // The record goes away (change event with null) and describe fails.
  bool erased = false;
  auto until = clock_type::now() + deadline;
  while (!erased && clock_type::now() < until)
    for (auto& ev : collect(self, 1))
      erased = ev.key == "record/qsfp_service" && ev.new_value.is_null();
  CHECK(erased);
  CHECK(error_of(ask<service_record>(
          self, rt->services(), atom::describe_v, std::string{"qsfp_service"}))
    == errc::not_found);
  CHECK_FALSE(value_of(ask<bool>(
    self, rt->monitor(), atom::erase_v, std::string{"qsfp_service"})));
  CHECK(
    value_of(ask<std::vector<service_rule>>(self, rt->monitor(), atom::list_v))
      .empty());
  // An on-demand scan with no rules is empty.
  CHECK(value_of(
    ask<std::vector<service_record>>(self, rt->monitor(), atom::scan_v))
          .empty());
}

TEST_CASE(
  "the blocking monitor facade adds, lists, scans and removes", "[monitor]") {
  temp_dir dir;
  auto exe = copy_sleep(dir, "qsfp_service");
  auto rt = start_runtime(monitor_config_with({}, 1000));
  client c{*rt};
  proc p{{exe, "1000"}};
  auto rule = exe_rule("qsfp_service", exe);
  CHECK(value_of(c.monitor().add(rule)));
  // Answered after the first scan: the record is there already.
  CHECK(value_of(c.services().is_service_running("qsfp_service")));
  CHECK_FALSE(value_of(c.monitor().add(rule))); // replaced, not new
  CHECK(value_of(c.monitor().rules()) == std::vector<service_rule>{rule});
  auto recs = value_of(c.monitor().scan());
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].name == "qsfp_service");
  CHECK(has_pids(recs[0], {p.pid()}));
  CHECK(recs[0].cmdline == exe + " 1000");
  p.kill();
  p.reap();
  recs = value_of(c.monitor().scan());
  REQUIRE(recs.size() == 1);
  CHECK_FALSE(recs[0].running);
  CHECK_FALSE(value_of(c.services().is_service_running("qsfp_service")));
  auto metrics = value_of(c.monitor().metrics());
  CHECK(metrics["services"] == 1);
  CHECK(metrics["scans"].get<uint64_t>() >= 3);
  auto bad = c.monitor().add({"bad", match_kind::cmdline, "[oops"});
  CHECK(error_of(bad) == errc::invalid_argument);
  CHECK(
    message_of(bad.error()).find("invalid cmdline regex") != std::string::npos);
  CHECK(value_of(c.monitor().remove("qsfp_service")));
  CHECK_FALSE(value_of(c.monitor().remove("qsfp_service")));
  CHECK(value_of(c.monitor().rules()).empty());
  CHECK(value_of(c.monitor().scan()).empty());
  rt->shutdown();
  CHECK(error_of(c.monitor().rules()) == errc::shutting_down);
}
