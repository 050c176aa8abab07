// The service monitor with real processes and the real /proc: a copy of
// /bin/sleep named qsfp_service plays the watched daemon.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "actors/monitor.hpp"
#include "labrt/client.hpp"
#include "labrt/ps.hpp"
#include "src/proc_scan.hpp"
#include "src/proc_stat.hpp"
#include "src/process.hpp"
#include "src/regex_text.hpp"
#include "src/scan_pool.hpp"
#include "src/service_rules.hpp"
#include "tests/proc_support.hpp"
#include "tests/support.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {


/// A process this test started: killed and reaped on destruction.
struct proc {
  explicit proc(spawn_spec spec) {
    auto c = spawn(spec);
    if (!c)
      FAIL("spawn failed: " << render(c.error()));
    ch = std::move(*c);
  }
  proc(const std::vector<std::string>& argv)
    : proc(spawn_spec{argv, {}, {}, {}, false, {}}) {}
  ~proc() {
    kill();
    reap();
  }
  pid_t pid() const {
    return ch.pid;
  }
  void kill() {
    if (!reaped)
      send_signal(ch.pidfd.get(), SIGKILL);
  }
  void reap() {
    if (reaped)
      return;
    int status = 0;
    ::waitpid(ch.pid, &status, 0);
    reaped = true;
  }
  child ch;
  bool reaped = false;
};

runtime_config monitor_config_with(
  std::vector<service_rule> rules, int64_t interval_ms) {
  runtime_config cfg;
  cfg.runner.enabled = false;
  cfg.monitor.services = std::move(rules);
  cfg.monitor.interval_ms = interval_ms;
  return cfg;
}

service_rule comm_rule(const std::string& name, const std::string& comm) {
  return service_rule{name, match_kind::comm, comm};
}

/// The rule of the runtime tests. ctest runs test cases in parallel, each in
/// its own process and each with processes named qsfp_service: the exe path
/// (the copy in this test's temp dir) keeps them apart. comm rules are
/// covered by the scanner tests, which scan explicit pid lists.
service_rule exe_rule(const std::string& name, const std::string& exe) {
  return service_rule{name, match_kind::exe, exe};
}

/// Receives change events until the record of `service` satisfies `pred`.
/// Returns the record and when it arrived.
std::pair<service_record, clock_type::time_point> wait_record(
  caf::scoped_actor& self, const std::string& service,
  const std::function<bool(const service_record&)>& pred) {
  auto key = "record/" + service;
  auto until = clock_type::now() + deadline;
  for (;;) {
    auto left = until - clock_type::now();
    if (left <= clock_type::duration::zero())
      FAIL("no matching record of " << service << " in time");
    std::optional<service_record> got;
    bool timed_out = false;
    self->receive(
      [&](change_event& ev) {
        if (ev.key == key && !ev.new_value.is_null())
          got = ev.new_value.get<service_record>();
      },
      caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(left)) >>
        [&] { timed_out = true; });
    if (timed_out)
      FAIL("no matching record of " << service << " in time");
    if (got && pred(*got))
      return {*got, clock_type::now()};
  }
}

template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::scoped_actor& self, const Handle& h, Ts&&... xs) {
  caf::expected<T> result{T{}};
  self->request(h, deadline, std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
      [&](caf::error& err) { result = std::move(err); });
  return result;
}

bool has_pids(const service_record& rec, std::vector<int32_t> pids) {
  return rec.running && rec.pids == pids;
}

/// Reads one line from a child's stdout (non-blocking), without the '\n'.
std::string read_line(int fd) {
  std::string text;
  auto until = clock_type::now() + deadline;
  while (text.find('\n') == std::string::npos) {
    if (clock_type::now() > until)
      FAIL("no line in time, got '" << text << "'");
    pollfd pfd{fd, POLLIN, 0};
    ::poll(&pfd, 1, 100);
    char buf[64];
    auto n = ::read(fd, buf, sizeof(buf));
    if (n > 0)
      text.append(buf, static_cast<size_t>(n));
  }
  return text.substr(0, text.find('\n'));
}

/// Reads the pid a shell echoes.
pid_t read_pid_line(int fd) {
  return static_cast<pid_t>(std::stol(read_line(fd)));
}

} // namespace

TEST_CASE("a watched service is seen within one interval, its death within "
          "100 ms",
  "[monitor]") {
  temp_dir dir;
  auto exe = copy_sleep(dir, "qsfp_service");
  constexpr int64_t interval_ms = 300;
  auto rt = start_runtime(
    monitor_config_with({exe_rule("qsfp_service", exe)}, interval_ms));
  caf::scoped_actor self{rt->system()};
  subscribe(self, rt->services());
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
    self, rt->services(), atom::check_v, std::string{"qsfp_service"})));
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
    self, rt->services(), atom::check_v, std::string{"qsfp_service"})));
}

TEST_CASE("two instances give two pids", "[monitor]") {
  temp_dir dir;
  auto exe = copy_sleep(dir, "qsfp_service");
  auto rt
    = start_runtime(monitor_config_with({exe_rule("qsfp_service", exe)}, 200));
  caf::scoped_actor self{rt->system()};
  subscribe(self, rt->services());
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
  temp_dir dir;
  auto exe = copy_sleep(dir, "qsfp_service");
  auto rt
    = start_runtime(monitor_config_with({exe_rule("qsfp_service", exe)}, 200));
  caf::scoped_actor self{rt->system()};
  subscribe(self, rt->services());
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
    ask<std::vector<service_record>>(self, rt->monitor(), atom::scan_v));
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
