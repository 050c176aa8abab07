// A host's run log through the orchestrator: read whole, followed live
// until the run ends (across many chunks), and by `labctl --host`.
#include <iterator>

#include "cluster_support.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

std::string file_text(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, {}};
}

} // namespace

TEST_CASE("a host's log through the orchestrator: whole, followed to the "
          "run's end, and by labctl --host",
          "[cluster]") {
  temp_dir dir{"labrt-cluster-logs"};
  auto secret_file = write_secret(dir, "secret", "a-secret-of-the-lab-01234567");
  daemon_proc dut1{agent_config(dir, "dut1", 0, secret_file)};
  daemon_proc orch{orchestrator_config(
    dir, json::array({peer("dut1", agent_port_of(dut1))}), secret_file)};
  await_view(orch, [](const json& v) { return host_up(v, "dut1"); });
  auto cli = orch.client();
  auto none = cli.Get("/api/cluster/dut1/test/logs");
  REQUIRE(none);
  CHECK(none->status == 404);
  CHECK(has(none->body, "dut1: no run yet"));

  // Followed while it runs: more than a chunk (64 KiB) of lines, and the
  // stream ends when the run does, with every byte the host wrote.
  auto marker = dir / "go";
  auto started = post(cli, "/api/cluster/dut1/test/start",
                      json{{"script", "until_file.sh"}, {"args", {marker, "7"}}});
  REQUIRE(started);
  REQUIRE(started->status == 201);
  auto id = json::parse(started->body).at("run_id").get<std::string>();
  std::string seen;
  bool told = false;
  auto tail = orch.client();
  auto followed = tail.Get(
    ("/api/cluster/dut1/test/logs?follow=1&run=" + id).c_str(),
    [&](const char* data, size_t n) {
      seen.append(data, n);
      if (!told && has(seen, "line 8000\n"))
        told = static_cast<bool>(std::ofstream{marker} << "");
      return true;
    });
  REQUIRE(followed);
  CHECK(followed->status == 200);
  CHECK(followed->get_header_value("X-Run-Id") == id);
  auto rec = dut1.get("/api/test/runs/" + id);
  CHECK(rec.at("exit_code") == 7);
  auto log = file_text(rec.at("log"));
  CHECK(log.size() > 64 * 1024);
  CHECK(seen == log);

  // Read whole once it ended; its record through the orchestrator too.
  auto whole = cli.Get("/api/cluster/dut1/test/logs");
  REQUIRE(whole);
  CHECK(whole->status == 200);
  CHECK(whole->body == log);
  CHECK(orch.get("/api/cluster/dut1/test/runs/" + id).at("exit_code") == 7);

  // labctl --host follows a start and exits with the run's code.
  auto server = "http://127.0.0.1:" + std::to_string(orch.port);
  auto run = run_labctl({"--server", server, "--host", "dut1", "test", "start",
                         "--follow", "print_env.sh"});
  INFO(run.err);
  CHECK(run.code == 0);
  CHECK(has(run.out, "PATH="));
  auto again = run_labctl({"--server", server, "--host", "dut1", "logs",
                           "--run", id});
  CHECK(again.code == 0);
  CHECK(again.out == log);

  // A host that is down fails at once, naming it.
  dut1.kill9();
  await_view(orch, [](const json& v) { return !host_up(v, "dut1"); });
  auto down = cli.Get("/api/cluster/dut1/test/logs");
  REQUIRE(down);
  CHECK(down->status == 503);
  CHECK(has(down->body, "dut1"));
}
