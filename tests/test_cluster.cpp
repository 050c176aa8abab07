// A lab of several hosts: real `labctl serve` agents and an orchestrator on
// 127.0.0.1, over CAF's network layer; killed with SIGKILL and restarted.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>

#include "actors/agent.hpp"
#include "cluster_support.hpp"
#include "src/config_check.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

const std::string secret = "a-secret-of-the-lab-0123456789";

} // namespace

TEST_CASE("two agents and an orchestrator: runs routed, a lost agent down "
          "and back",
          "[cluster]") {
  temp_dir dir{"labrt-cluster"};
  auto secret_file = write_secret(dir, "secret", secret);
  daemon_proc dut1{agent_config(dir, "dut1", 0, secret_file)};
  daemon_proc dut2{agent_config(dir, "dut2", 0, secret_file)};
  auto port1 = agent_port_of(dut1);
  daemon_proc orch{orchestrator_config(
    dir, {peer("dut1", port1), peer("dut2", agent_port_of(dut2))},
    secret_file)};
  await_view(orch, [](const json& v) {
    return host_up(v, "dut1") && host_up(v, "dut2");
  });

  // A start routed to dut2 runs there, and the view shows it running.
  auto cli = orch.client();
  auto started = post(cli, "/api/cluster/dut2/test/start",
                      json{{"script", "sleep.sh"}, {"args", {"30"}}});
  REQUIRE(started);
  INFO(started->body);
  REQUIRE(started->status == 201);
  auto run = json::parse(started->body);
  CHECK(dut2.get("/api/test/status").value("running", false));
  CHECK_FALSE(dut1.get("/api/test/status").value("running", true));
  await_view(orch, [&](const json& v) {
    auto& r = v["hosts"]["dut2"]["run"];
    return r.is_object() && r.value("run_id", "") == run["run_id"]
           && r.value("state", "") == "running";
  });
  CHECK(orch.get("/api/cluster/dut2/test/queue").is_array());

  // Stopped through the orchestrator: the view empties.
  auto stopped = cli.Post("/api/cluster/dut2/test/stop");
  REQUIRE(stopped);
  INFO(stopped->body);
  CHECK(stopped->status == 200);
  await_view(orch, [](const json& v) { return v["hosts"]["dut2"]["run"].is_null(); });
  auto history = orch.get("/api/cluster/dut2/history?limit=1");
  REQUIRE(history.size() == 1);
  CHECK(history[0]["run_id"] == run["run_id"]);

  // dut2's kv store through the orchestrator, with its ETags and If-Match.
  const std::string key_path = "/api/cluster/dut2/kv/lab/owner";
  auto put = cli.Put(key_path.c_str(), R"("ana")", "application/json");
  REQUIRE(put);
  CHECK(put->status == 200);
  auto etag = put->get_header_value("ETag");
  CHECK(dut2.get("/api/kv/lab/owner")["value"] == "ana");
  auto stale = cli.Put(key_path.c_str(), {{"If-Match", "\"12345\""}},
                       R"("bo")", "application/json");
  REQUIRE(stale);
  CHECK(stale->status == 412);
  auto listed = orch.get("/api/cluster/dut2/kv?prefix=lab/");
  REQUIRE(listed["entries"].size() == 1);
  CHECK(listed["entries"][0]["value"] == "ana");
  auto deleted = cli.Delete(key_path.c_str(), {{"If-Match", etag}});
  REQUIRE(deleted);
  CHECK(deleted->status == 200);
  CHECK(orch.client().Get(key_path.c_str())->status == 404);

  // kill -9 dut1: down at once, its routes fail fast naming it.
  dut1.kill9();
  auto t0 = clock_type::now();
  auto down = await_view(orch, [](const json& v) { return !host_up(v, "dut1"); });
  CHECK(clock_type::now() - t0 < std::chrono::seconds{2});
  CHECK(host_up(down, "dut2"));
  auto refused = post(cli, "/api/cluster/dut1/test/start",
                      json{{"script", "sleep.sh"}, {"args", {"1"}}});
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(has(refused->body, "dut1 is down"));
  CHECK(orch.client().Get("/api/cluster/dut1/kv")->status == 503);

  // Back on its port: up again, with its state read anew.
  daemon_proc again{agent_config(dir, "dut1", port1, secret_file)};
  auto back = await_view(orch, [](const json& v) { return host_up(v, "dut1"); });
  CHECK(back["hosts"]["dut1"]["run"].is_null());
  CHECK(back["hosts"]["dut1"]["services"].is_object());

  auto server = "http://127.0.0.1:" + std::to_string(orch.port);
  auto table = run_labctl({"--server", server, "cluster"});
  CHECK(table.code == 0);
  CHECK(has(table.out, "dut1"));
  CHECK(has(table.out, "up"));
  // labctl --host goes through the orchestrator.
  auto routed = run_labctl({"--server", server, "--host", "dut2", "--json",
                            "history", "-n", "1"});
  INFO(routed.err);
  CHECK(routed.code == 0);
  CHECK(has(routed.out, run["run_id"].get<std::string>()));
  auto started2 = run_labctl({"--server", server, "--host", "dut1", "test",
                              "start", "sleep.sh", "--", "30"});
  CHECK(started2.code == 0);
  CHECK(again.get("/api/test/status").value("running", false));
  CHECK(run_labctl({"--server", server, "--host", "dut1", "test", "stop"}).code
        == 0);
  CHECK(run_labctl({"--server", server, "--host", "dut1", "kv", "set",
                    "owner", R"("ana")"})
          .code
        == 0);
  CHECK(again.get("/api/kv/owner")["value"] == "ana");
  auto got = run_labctl({"--server", server, "--host", "dut1", "kv", "get",
                         "owner"});
  CHECK(has(got.out, "ana"));
  auto local_only = run_labctl({"--server", server, "--host", "dut1", "status"});
  CHECK(local_only.code == 2);
  CHECK(has(local_only.err, "--host goes with"));
}

TEST_CASE("a silent agent (stopped, no reset) is down within 2 s and back "
          "after",
          "[cluster]") {
  temp_dir dir{"labrt-cluster"};
  auto secret_file = write_secret(dir, "secret", secret);
  daemon_proc dut{agent_config(dir, "dut1", 0, secret_file)};
  daemon_proc orch{orchestrator_config(
    dir, json::array({peer("dut1", agent_port_of(dut))}), secret_file)};
  await_view(orch, [](const json& v) { return host_up(v, "dut1"); });

  // A frozen host sends nothing and resets nothing: only the heartbeat
  // tells.
  send_signal(dut.c.pidfd.get(), SIGSTOP);
  auto t0 = clock_type::now();
  auto down = await_view(orch, [](const json& v) { return !host_up(v, "dut1"); });
  CHECK(clock_type::now() - t0 < std::chrono::seconds{2});
  CHECK(has(down["hosts"]["dut1"].value("error", ""), "connection lost"));
  send_signal(dut.c.pidfd.get(), SIGCONT);
  await_view(orch, [](const json& v) { return host_up(v, "dut1"); });
}

TEST_CASE("an orchestrator with the wrong secret is refused", "[cluster]") {
  temp_dir dir{"labrt-cluster"};
  daemon_proc dut{agent_config(dir, "dut1", 0, write_secret(dir, "agent", secret))};
  daemon_proc orch{orchestrator_config(
    dir, json::array({peer("dut1", agent_port_of(dut))}),
    write_secret(dir, "orch", "not-the-secret-of-this-lab"))};
  auto view = await_view(orch, [](const json& v) {
    return has(v["hosts"]["dut1"].value("error", std::string{}), "secret");
  });
  CHECK_FALSE(host_up(view, "dut1"));
  auto cli = orch.client();
  auto refused = post(cli, "/api/cluster/dut1/test/start",
                      json{{"script", "sleep.sh"}, {"args", {"1"}}});
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK_FALSE(dut.get("/api/test/status").value("running", true));
}

TEST_CASE("two peers at one agent: the second is refused, naming the first",
          "[cluster]") {
  temp_dir dir{"labrt-cluster"};
  auto secret_file = write_secret(dir, "secret", secret);
  daemon_proc dut{agent_config(dir, "dut1", 0, secret_file)};
  auto port = agent_port_of(dut);
  daemon_proc orch{orchestrator_config(
    dir, {peer("dut1", port), peer("twin", port)}, secret_file)};
  // Either may connect first; the other must not take its session.
  auto refused_one = [](const json& v, const std::string& name,
                        const std::string& other) {
    return host_up(v, other)
           && has(v["hosts"][name].value("error", std::string{}),
                  "the same agent as " + other);
  };
  auto view = await_view(orch, [&](const json& v) {
    return refused_one(v, "twin", "dut1") || refused_one(v, "dut1", "twin");
  });
  auto up = host_up(view, "dut1") ? std::string{"dut1"} : std::string{"twin"};
  auto cli = orch.client();
  for (int i = 0; i < 20; ++i) {
    auto routed = cli.Get(("/api/cluster/" + up + "/test/queue").c_str());
    REQUIRE(routed);
    CHECK(routed->status == 200);
  }
  CHECK(host_up(orch.get("/api/cluster"), up));
}

TEST_CASE("a peer of another protocol is refused at connect", "[cluster]") {
  // A CAF node that is no labrt agent of this protocol.
  caf::actor_system_config other_cfg;
  other_cfg.load<caf::io::middleman>();
  other_cfg.set("middleman.app-identifiers",
                std::vector<std::string>{"labrt-cluster-0"});
  caf::actor_system other{other_cfg};
  // Spawned with an argument: CAF 0.17 reads a null argument tuple for a
  // function actor without one (docs/caf-0.17.md).
  auto dummy = other.spawn(
    [](int32_t base) -> caf::behavior {
      return {[base](int32_t x) { return x + base; }};
    },
    int32_t{0});
  auto port = other.middleman().publish(dummy, 0, "127.0.0.1");
  REQUIRE(port);

  runtime_config cfg;
  cfg.cluster.secret = secret;
  cfg.cluster.peers.push_back({"old", "127.0.0.1", *port});
  auto rt = start_runtime(cfg);
  {
    client c{*rt};
    // Each attempt fails at once; the view shows the first failure.
    json view;
    auto until = clock_type::now() + deadline;
    do {
      auto got = c.cluster().hosts();
      REQUIRE(got);
      view = *got;
    } while (view["hosts"]["old"].value("error", "") == "connecting"
             && clock_type::now() < until);
    INFO(view.dump(2));
    CHECK_FALSE(host_up(view, "old"));
    CHECK(has(view["hosts"]["old"].value("error", ""),
              "incompatible_application_ids"));
    auto start = c.cluster().start("old", run_spec{});
    REQUIRE_FALSE(start);
    CHECK(code_of(start.error()) == errc::unavailable);
  } // The client goes before its runtime.
  rt.reset();
  caf::anon_send_exit(dummy, caf::exit_reason::user_shutdown);
}

TEST_CASE("an agent's gate wants the secret, and a session answers only the "
          "node that opened it",
          "[cluster]") {
  runtime_config cfg;
  cfg.cluster.secret = secret;
  cfg.cluster.publish_host = "127.0.0.1";
  cfg.runner.roots = {scripts_dir};
  auto agent = start_runtime(cfg);
  {
    // Node x opens a session; node y receives x's handle to it.
    caf::actor_system_config x_cfg;
    configure_cluster(x_cfg);
    caf::actor_system x{x_cfg};
    caf::actor_system_config y_cfg;
    configure_cluster(y_cfg);
    caf::actor_system y{y_cfg};
    auto relay = y.spawn([](caf::event_based_actor* self,
                            std::chrono::seconds patience) -> caf::behavior {
      return {[self, patience](agent_actor& session) {
        auto rp = self->make_response_promise<std::string>();
        self->request(session, patience, atom::list_v)
          .then([rp](std::vector<run_record>&) mutable { rp.deliver(std::string{"answered"}); },
                [rp](caf::error& err) mutable { rp.deliver(message_of(err)); });
        return rp;
      }};
    }, std::chrono::seconds{5});
    auto relay_port = y.middleman().publish(relay, 0, "127.0.0.1");
    REQUIRE(relay_port);
    {
      auto gate = x.middleman().remote_actor<agent_gate_actor>(
        "127.0.0.1", agent->agent_port());
      REQUIRE(gate);
      caf::scoped_actor self{x};
      std::string refused;
      self->request(*gate, deadline, atom::open_v, std::string{"not-the-secret-0123"})
        .receive([](const agent_actor&) {},
                 [&](caf::error& err) { refused = message_of(err); });
      CHECK(refused == "wrong cluster secret");
      agent_actor session;
      self->request(*gate, deadline, atom::open_v, secret)
        .receive([&](agent_actor& s) { session = std::move(s); },
                 [](caf::error& err) { FAIL(render(err)); });
      REQUIRE(session);
      bool answered = false;
      self->request(session, deadline, atom::list_v)
        .receive([&](const std::vector<run_record>&) { answered = true; },
                 [](caf::error& err) { FAIL(render(err)); });
      CHECK(answered);
      auto to_y = x.middleman().remote_actor("127.0.0.1", *relay_port);
      REQUIRE(to_y);
      std::string said;
      self->request(*to_y, deadline, session)
        .receive([&](const std::string& text) { said = text; },
                 [&](caf::error& err) { said = render(err); });
      CHECK(said == "this session belongs to another node");

      // Opened again by the same actor (an orchestrator that gave the first
      // up): the new session replaces the old one.
      self->monitor(session);
      agent_actor again;
      self->request(*gate, deadline, atom::open_v, secret)
        .receive([&](agent_actor& s) { again = std::move(s); },
                 [](caf::error& err) { FAIL(render(err)); });
      REQUIRE(again);
      CHECK(again != session);
      bool old_gone = false;
      receive_within(deadline, [&](auto timeout) {
        self->receive(
          [&](const caf::down_msg& msg) {
            old_gone = msg.source == session.address();
          },
          timeout);
      });
      CHECK(old_gone);
      answered = false;
      self->request(again, deadline, atom::list_v)
        .receive([&](const std::vector<run_record>&) { answered = true; },
                 [](caf::error& err) { FAIL(render(err)); });
      CHECK(answered);
      // The old session's end did not end the gate.
      bool opened = false;
      self->request(*gate, deadline, atom::open_v, secret)
        .receive([&](const agent_actor&) { opened = true; },
                 [](caf::error& err) { FAIL(render(err)); });
      CHECK(opened);
    }
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
    release_thread_logger();
  }
}

TEST_CASE("cluster config: loopback only, a private secret", "[cluster]") {
  temp_dir dir{"labrt-cluster"};
  auto read = [&](const json& cluster) {
    return parse_config({{"runner", {{"roots", {scripts_dir}}}},
                         {"cluster", cluster}},
                        dir.path);
  };
  auto good = write_secret(dir, "good", secret);
  auto cfg = read({{"publish", "127.0.0.1:7700"}, {"secret_file", "good"}});
  REQUIRE(cfg);
  CHECK(cfg->runtime.cluster.secret == secret);
  CHECK(cfg->runtime.cluster.publish_port == 7700);

  auto refused = [&](const json& cluster, const std::string& says) {
    auto bad = read(cluster);
    REQUIRE_FALSE(bad);
    INFO(message_of(bad.error()));
    CHECK(has(message_of(bad.error()), says));
  };
  refused({{"publish", "0.0.0.0:7700"}, {"secret_file", "good"}},
          "needs cluster.tls");
  refused({{"publish", "127.0.0.1:7700"}}, "cluster.secret_file is required");
  write_secret(dir, "open", secret, 0644);
  refused({{"publish", "127.0.0.1:7700"}, {"secret_file", "open"}},
          "chmod 600");
  write_secret(dir, "short", "abc");
  refused({{"publish", "127.0.0.1:7700"}, {"secret_file", "short"}},
          "at least 16");
  refused({{"peers", {peer("a", 1), peer("a", 2)}}, {"secret_file", "good"}},
          "used twice");
  refused({{"peers", json::array({peer("x/y", 1)})}, {"secret_file", "good"}},
          "without '/'");
  refused({{"peers", json::array({peer("a", 0)})}, {"secret_file", "good"}},
          "port");
}
