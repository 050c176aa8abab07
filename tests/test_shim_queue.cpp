// The queue across a restart: labctl serve with a state_dir keeps its queued
// runs in labrt.db; these tests kill -9 the daemon and check that the next
// one has the same queue, in order, behind the run it re-adopts.
#include <signal.h>

#include "shim_support.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

/// Queues `script` with `args` and `env`: the run's record (201 required).
json enqueue(daemon_proc& d, const std::string& script,
             const std::vector<std::string>& args, const json& env = json::object()) {
  auto cli = d.client();
  auto res = post(cli, "/api/test/queue",
                  {{"script", script}, {"args", args}, {"env", env}});
  REQUIRE(res);
  INFO(res->body);
  REQUIRE(res->status == 201);
  return json::parse(res->body);
}

std::vector<std::string> queue_ids(daemon_proc& d) {
  std::vector<std::string> ids;
  for (auto& rec : d.get("/api/test/queue"))
    ids.push_back(rec.at("run_id"));
  return ids;
}

/// Waits until `run` has ended: each wait for an idle slot returns at the
/// end of a run, so the number of waits is bounded by the runs ahead of it.
json wait_ended(daemon_proc& d, const std::string& run) {
  for (int i = 0; i < 20; ++i) {
    auto rec = d.get("/api/test/runs/" + run);
    if (!rec.at("outcome").is_null())
      return rec;
    d.wait_idle();
  }
  FAIL("run " << run << " did not end");
  return {};
}

std::string text_at(const json& rec, const char* key) {
  return rec.at(key).is_string() ? rec.at(key).get<std::string>() : "";
}

} // namespace

TEST_CASE_METHOD(shim_lab, "the queue survives kill -9 of the daemon, in order, "
                           "and runs after the re-adopted run",
                 "[shim]") {
  json first_run;
  std::string a;
  std::string b;
  std::string c;
  {
    daemon_proc first{config};
    first_run = first.start("sleep.sh", {"60"});
    first.follow_until(first_run.at("run_id"), "ready\n");
    a = enqueue(first, "exit_with.sh", {"3"}).at("run_id");
    b = enqueue(first, "print_env.sh", {}, {{"QUEUED_BOARD", "kept"}}).at("run_id");
    c = enqueue(first, "exit_with.sh", {"5"}).at("run_id");
    auto cli = first.client();
    auto cancelled = cli.Delete(("/api/test/queue/" + c).c_str());
    REQUIRE(cancelled);
    REQUIRE(cancelled->status == 200);
    REQUIRE(queue_ids(first) == std::vector<std::string>{a, b});
    first.kill9();
  }
  daemon_proc second{config};
  INFO(second.err);
  auto status = second.get("/api/test/status");
  CHECK(status.at("run_id") == first_run.at("run_id"));
  CHECK(status.at("pid") == first_run.at("pid"));
  // The same queue, in order, still waiting behind the re-adopted run.
  CHECK(queue_ids(second) == std::vector<std::string>{a, b});
  auto queued = second.get("/api/test/queue");
  CHECK(queued[0].at("state") == "queued");
  CHECK(queued[0].at("args") == json::array({"3"}));
  CHECK(queued[1].at("script") == "print_env.sh");
  // The cancelled run does not come back.
  CHECK(second.get("/api/test/runs/" + c).at("state") == "cancelled");
  auto cli = second.client();
  auto stopped = cli.Post("/api/test/stop", "{}", "application/json");
  REQUIRE(stopped);
  REQUIRE(stopped->status == 200);
  auto adopted = json::parse(stopped->body);
  CHECK(adopted.at("outcome") == "stopped");
  auto ran_a = wait_ended(second, a);
  auto ran_b = wait_ended(second, b);
  CHECK(ran_a.at("exit_code") == 3);
  CHECK(ran_b.at("exit_code") == 0);
  // One after the other, after the adopted run (ISO 8601 times compare as text).
  CHECK(text_at(ran_a, "started_at") >= text_at(adopted, "ended_at"));
  CHECK(text_at(ran_b, "started_at") >= text_at(ran_a, "ended_at"));
  // b ran with the environment it was queued with.
  std::ifstream log{text_at(ran_b, "log")};
  std::string text{std::istreambuf_iterator<char>{log}, {}};
  CHECK(has(text, "QUEUED_BOARD=kept\n"));
  CHECK(queue_ids(second).empty());
  second.kill9();
  // Nothing of the queue is left for a third daemon; c never ran.
  daemon_proc third{config};
  CHECK(queue_ids(third).empty());
  CHECK(third.get("/api/test/status").value("running", true) == false);
  CHECK(third.get("/api/test/runs/" + c).at("state") == "cancelled");
  CHECK(third.get("/api/history/" + b).at("exit_code") == 0);
}

TEST_CASE_METHOD(shim_lab, "a graceful stop leaves the queue to the next "
                           "daemon only if it leaves runs alive",
                 "[shim]") {
  auto stop_with_queue = [&](bool stop_on_shutdown) {
    config = write_config(dir, stop_on_shutdown);
    daemon_proc d{config};
    auto running = d.start("sleep.sh", {"60"});
    d.follow_until(running.at("run_id"), "ready\n");
    std::string id = enqueue(d, "exit_with.sh", {"0"}).at("run_id");
    send_signal(d.c.pidfd.get(), SIGTERM);
    REQUIRE(d.wait_for(" stopped\n"));
    return id;
  };
  SECTION("stop_on_shutdown: false keeps it, as a crash does") {
    auto id = stop_with_queue(false);
    daemon_proc next{config};
    CHECK(queue_ids(next) == std::vector<std::string>{id});
    auto cli = next.client();
    auto stopped = cli.Post("/api/test/stop", "{}", "application/json");
    REQUIRE(stopped);
    CHECK(stopped->status == 200);
    CHECK(wait_ended(next, id).at("exit_code") == 0);
  }
  SECTION("stop_on_shutdown: true cancels it") {
    auto id = stop_with_queue(true);
    daemon_proc next{config};
    CHECK(queue_ids(next).empty());
    auto rec = next.get("/api/test/runs/" + id);
    CHECK(rec.at("state") == "cancelled"); // It never started.
  }
}
