// Runs that outlive the daemon: labctl serve with a state_dir starts each
// run through labrt-shim; these tests kill -9 the daemon (and the shim) and
// check what the next daemon makes of it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "shim_support.hpp"
#include "src/run_dir.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

/// Waits for a process that is not our child to be gone.
bool wait_gone(pid_t pid) {
  auto fd = pidfd_open(pid);
  if (!fd)
    return true;
  unique_fd owned{*fd};
  pollfd pfd{owned.get(), POLLIN, 0};
  return ::poll(&pfd, 1, 10000) == 1;
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

json shim_of(const temp_dir& dir, const std::string& run) {
  auto j = read_json_file(dir / ("state/runs/" + run + "/shim.json"));
  REQUIRE(j);
  return *j;
}

/// Checks that the log holds "line 1" ... "line N" without a gap; N.
int check_no_gap(const std::string& path) {
  std::ifstream in{path};
  int expected = 1;
  for (std::string line; std::getline(in, line); ++expected) {
    INFO("line " << expected << " of " << path);
    REQUIRE(line == "line " + std::to_string(expected));
  }
  return expected - 1;
}

} // namespace

TEST_CASE_METHOD(shim_lab, "a chatty run survives kill -9 of the daemon and is re-adopted",
          "[shim]") {
  auto marker = dir / "stop-now";
  std::string run;
  int pid = 0;
  std::string cookie;
  {
    daemon_proc first{config};
    auto rec = first.start("until_file.sh", {marker, "3"});
    run = rec.at("run_id");
    pid = rec.at("pid");
    cookie = rec.at("cookie");
    first.follow_until(run, "line 1000\n");
    first.kill9();
    // Neither the script nor its shim went with the daemon.
    CHECK(alive(pid));
    CHECK(alive(shim_of(dir, run).at("pid").get<pid_t>()));
  }
  daemon_proc second{config};
  auto status = second.get("/api/test/status");
  INFO(status.dump() << second.err);
  CHECK(status.at("running") == true);
  CHECK(status.at("pid") == pid);
  CHECK(status.at("run_id") == run);
  // The slot is taken again: a start is refused as before.
  auto cli = second.client();
  auto refused = cli.Post("/api/test/start", R"({"script": "sleep.sh"})",
                          "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 409);
  // Output goes on: the daemon streams lines printed after its restart.
  auto seen = static_cast<int>(std::count(
    std::istreambuf_iterator<char>{std::ifstream{dir / ("logs/" + run + ".log")}.rdbuf()},
    {}, '\n'));
  second.follow_until(run, "line " + std::to_string(seen + 1000) + "\n");
  std::ofstream{marker} << "";
  second.wait_idle();
  auto ended = second.get("/api/test/runs/" + run);
  INFO(ended.dump());
  CHECK(ended.at("state") == "finished");
  CHECK(ended.at("exit_code") == 3);
  CHECK(ended.at("outcome") == "failed");
  CHECK(check_no_gap(dir / ("logs/" + run + ".log")) > seen);
  CHECK(find_by_cookie(cookie).empty());
  second.kill9();
  // Its directory is gone: a third daemon adopts nothing twice, and the
  // database holds the run once, as it ended.
  daemon_proc third{config};
  auto history = third.get("/api/history");
  INFO(history.dump());
  REQUIRE(history.size() == 1);
  CHECK(history[0].at("run_id") == run);
  CHECK(history[0].at("exit_code") == 3);
  CHECK(third.get("/api/test/status").value("running", false) == false);
}

TEST_CASE_METHOD(shim_lab, "a quiet run is re-adopted and stopped to the last process",
          "[shim]") {
  json rec;
  {
    daemon_proc first{config};
    rec = first.start("sleep.sh", {"60"});
    first.follow_until(rec.at("run_id"), "ready\n");
    first.kill9();
  }
  daemon_proc second{config};
  auto status = second.get("/api/test/status");
  CHECK(status.at("pid") == rec.at("pid"));
  auto cli = second.client();
  auto stopped = cli.Post("/api/test/stop", "{}", "application/json");
  REQUIRE(stopped);
  INFO(stopped->body);
  REQUIRE(stopped->status == 200);
  auto end = json::parse(stopped->body);
  CHECK(end.at("run_id") == rec.at("run_id"));
  CHECK(end.at("outcome") == "stopped");
  CHECK(find_by_cookie(rec.at("cookie")).empty());
}

TEST_CASE_METHOD(shim_lab,
                 "a graceful restart without stop_on_shutdown re-adopts",
                 "[shim]") {
  config = write_config(dir, false);
  json rec;
  {
    daemon_proc first{config};
    rec = first.start("sleep.sh", {"60"});
    first.follow_until(rec.at("run_id"), "ready\n");
    send_signal(first.c.pidfd.get(), SIGTERM);
    REQUIRE(first.wait_for(" stopped\n"));
  }
  daemon_proc second{config};
  CHECK(has(second.err, "re-adopted run " + rec.at("run_id").get<std::string>()));
  auto status = second.get("/api/test/status");
  CHECK(status.at("pid") == rec.at("pid"));
  auto cli = second.client();
  auto stopped = cli.Post("/api/test/stop", "{}", "application/json");
  REQUIRE(stopped);
  CHECK(json::parse(stopped->body).at("outcome") == "stopped");
  CHECK(find_by_cookie(rec.at("cookie")).empty());
}

TEST_CASE_METHOD(shim_lab, "a run that ended while the daemon was down has its true exit code",
          "[shim]") {
  auto marker = dir / "stop-now";
  std::string run;
  {
    daemon_proc first{config};
    run = first.start("until_file.sh", {marker, "7"}).at("run_id");
    first.follow_until(run, "line 10\n");
    first.kill9();
    auto shim = shim_of(dir, run).at("pid").get<pid_t>();
    std::ofstream{marker} << "";
    REQUIRE(wait_gone(shim));
  }
  daemon_proc second{config};
  auto ended = second.get("/api/test/runs/" + run);
  INFO(ended.dump());
  CHECK(ended.at("state") == "finished");
  CHECK(ended.at("exit_code") == 7);
  CHECK(second.get("/api/test/status").value("running", true) == false);
  check_no_gap(dir / ("logs/" + run + ".log"));
  // The slot is free for the next run.
  second.start("exit_with.sh", {"0"});
}

TEST_CASE_METHOD(shim_lab, "an end the API has shown survives a kill -9 "
                           "that follows at once", "[shim]") {
  // The run's directory and the database each hold its end for a while:
  // the directory must not go before the database has it.
  std::vector<std::string> runs;
  for (int i = 0; i < 10; ++i) {
    daemon_proc d{config};
    if (!runs.empty()) {
      auto rec = d.get("/api/test/runs/" + runs.back());
      INFO("try " << i << ": " << rec.dump());
      REQUIRE(rec.at("exit_code") == 7);
    }
    runs.push_back(d.start("exit_with.sh", {"7"}).at("run_id"));
    d.wait_idle();
    d.kill9();
  }
  daemon_proc last{config};
  for (auto& run : runs)
    CHECK(last.get("/api/history/" + run).at("exit_code") == 7);
}

TEST_CASE_METHOD(shim_lab, "a shim killed by SIGKILL gives a lost run and no orphans",
          "[shim]") {
  daemon_proc d{config};
  SECTION("while the daemon watches") {
    auto rec = d.start("sleep.sh", {"60"});
    std::string run = rec.at("run_id");
    d.follow_until(run, "ready\n");
    ::kill(shim_of(dir, run).at("pid").get<pid_t>(), SIGKILL);
    d.wait_idle();
    auto ended = d.get("/api/test/runs/" + run);
    INFO(ended.dump());
    CHECK(ended.at("state") == "lost");
    CHECK(ended.at("outcome") == "lost");
    CHECK(has(ended.at("error").get<std::string>(), "ended without a status"));
    CHECK(find_by_cookie(rec.at("cookie")).empty());
  }
  SECTION("while the daemon is down") {
    auto rec = d.start("sleep.sh", {"60"});
    std::string run = rec.at("run_id");
    d.follow_until(run, "ready\n");
    d.kill9();
    auto shim = shim_of(dir, run).at("pid").get<pid_t>();
    ::kill(shim, SIGKILL);
    REQUIRE(wait_gone(shim));
    daemon_proc next{config};
    auto ended = next.get("/api/test/runs/" + run);
    INFO(ended.dump());
    CHECK(ended.at("outcome") == "lost");
    CHECK(has(ended.at("error").get<std::string>(), "is gone"));
    CHECK(find_by_cookie(rec.at("cookie")).empty());
    CHECK(next.get("/api/test/status").value("running", true) == false);
  }
}

TEST_CASE_METHOD(shim_lab, "a recycled shim pid is not adopted", "[shim]") {
  json rec;
  pid_t shim = 0;
  {
    daemon_proc first{config};
    rec = first.start("sleep.sh", {"60"});
    first.follow_until(rec.at("run_id"), "ready\n");
    first.kill9();
    // The pid is alive, but as another process would be: another start time.
    auto path = dir / ("state/runs/" + rec.at("run_id").get<std::string>()
                       + "/shim.json");
    auto ident = shim_of(dir, rec.at("run_id"));
    shim = ident.at("pid");
    ident["start_ticks"] = ident.at("start_ticks").get<uint64_t>() + 1;
    std::ofstream{path} << ident.dump();
  }
  daemon_proc second{config};
  auto ended = second.get("/api/test/runs/" + rec.at("run_id").get<std::string>());
  INFO(ended.dump());
  CHECK(ended.at("outcome") == "lost");
  CHECK(has(ended.at("error").get<std::string>(), "is another process now"));
  CHECK(second.get("/api/test/status").value("running", true) == false);
  // What was the run's is killed; its shim sees the end and goes too.
  CHECK(find_by_cookie(rec.at("cookie")).empty());
  CHECK(wait_gone(shim));
}

TEST_CASE("a state_dir too long for run sockets is refused at start",
          "[shim]") {
  temp_dir dir{"labrt-shim"};
  auto deep = dir / std::string(90, 'd');
  auto path = dir / "lab.json";
  std::ofstream{path} << json{{"runner", {{"roots", {scripts_dir}}}},
                              {"http", {{"listen", "127.0.0.1:0"}}},
                              {"state_dir", deep}}.dump();
  auto r = run_labctl({"serve", "--config", path});
  CHECK(r.code == 2);
  CHECK(has(r.err, "is too long: a run's socket path under it must fit in 107 bytes"));
}

TEST_CASE("run directories: atomic files, sockets that fit", "[shim]") {
  temp_dir dir{"labrt-shim"};
  REQUIRE_FALSE(write_atomically(dir / "a.json", R"({"x": 1})"));
  CHECK(read_json_file(dir / "a.json")->at("x") == 1);
  CHECK_FALSE(std::filesystem::exists(dir / "a.json.tmp"));
  CHECK(code_of(read_json_file(dir / "none.json").error()) == errc::not_found);
  run_record rec;
  rec.run_id = "20261202-000000000-1";
  watch_job job;
  job.run_id = rec.run_id;
  job.spec.argv = {"/bin/true"};
  job.spec.cookie = "c";
  auto made = make_run_dir(dir / "runs", rec, job);
  REQUIRE(made);
  struct stat st;
  REQUIRE(::stat(made->c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  auto back = job_from_json(read_json_file(*made + "/spec.json")->at("job"));
  CHECK(back.spec.argv == job.spec.argv);
  CHECK(back.spec.cookie == "c");
  // Twice is refused: a run id names one run.
  CHECK_FALSE(make_run_dir(dir / "runs", rec, job));
  auto deep = dir / std::string(100, 'd');
  auto refused = make_run_dir(deep, rec, job);
  REQUIRE_FALSE(refused);
  CHECK(has(message_of(refused.error()), "use a shorter state_dir"));
  CHECK_FALSE(std::filesystem::exists(deep));
}
