// labrt-bench-cluster: an orchestrator and its agents as runtimes in one
// process, each its own CAF node, talking BASP over 127.0.0.1.
//
//   labrt-bench-cluster [--seconds S] [--agents N,N,...]   (default 2; 3,10)
//
// round trip: one queue read of an agent, through the orchestrator (HTTP
//             thread -> orchestrator -> agent session -> runner and back),
//             beside the same read through the agent's own facade and a
//             bare CAF remote request to an echo actor (the floor); then
//             the same through an orchestrator and agent over mutual TLS
//             (certificates from scripts/cluster-certs).
// events/s:   every agent sets kv keys from one thread as fast as it can;
//             the orchestrator's hub counts the events that reached it.
// start:      a run started on an agent through the orchestrator, until
//             the orchestrator's view shows it running.
// down:       an agent shuts down; time until the orchestrator's view says
//             it is down.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/event_stream.hpp"
#include "labrt/runtime.hpp"
#include "stats.hpp"

namespace {

using namespace labrt;
using bench::clock_type;
using bench::summarize;
using bench::summary;
using bench::us_since;

const std::string secret = "bench-secret-0123456789abcdef";

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "labrt-bench-cluster: %s\n", what.c_str());
  std::exit(1);
}

std::unique_ptr<runtime> make(runtime_config cfg) {
  auto rt = runtime::make(std::move(cfg));
  if (!rt)
    die(render(rt.error()));
  return std::move(*rt);
}

std::unique_ptr<runtime> make_agent(cluster_tls tls = {}) {
  runtime_config cfg;
  cfg.cluster.secret = secret;
  cfg.cluster.tls = std::move(tls);
  cfg.cluster.publish_host = "127.0.0.1";
  cfg.runner.roots = {"/"};
  return make(std::move(cfg));
}

std::unique_ptr<runtime>
make_orchestrator(const std::vector<std::unique_ptr<runtime>>& agents,
                  cluster_tls tls = {}) {
  runtime_config cfg;
  cfg.cluster.secret = secret;
  cfg.cluster.tls = std::move(tls);
  cfg.event_hub = true;
  for (size_t i = 0; i < agents.size(); ++i)
    cfg.cluster.peers.push_back(
      {"dut" + std::to_string(i), "127.0.0.1", agents[i]->agent_port()});
  return make(std::move(cfg));
}

/// Waits until every host of `orch` is up (or dies after 10 s).
void await_up(client& c, size_t n) {
  auto until = clock_type::now() + std::chrono::seconds{10};
  for (;;) {
    auto view = c.cluster().hosts();
    if (!view)
      die(render(view.error()));
    size_t up = 0;
    for (auto& [name, h] : (*view)["hosts"].items())
      up += h.value("up", false) ? 1 : 0;
    if (up == n)
      return;
    if (clock_type::now() > until)
      die("agents not up: " + view->dump());
    std::this_thread::yield();
  }
}


template <class F>
summary time_calls(double seconds, F call) {
  std::vector<double> us;
  auto end = clock_type::now() + std::chrono::duration<double>(seconds);
  while (clock_type::now() < end) {
    auto t0 = clock_type::now();
    call();
    us.push_back(us_since(t0));
  }
  return summarize(std::move(us));
}

void print(const char* what, const summary& s) {
  std::printf("%-44s p50 %8.1f us  p99 %8.1f us  (%zu calls)\n", what, s.p50,
              s.p99, s.n);
}

/// A bare CAF request/reply over BASP: an echo actor published by one node,
/// asked by a scoped actor of another.
summary bare_caf(double seconds) {
  caf::actor_system_config server_cfg;
  server_cfg.load<caf::io::middleman>();
  caf::actor_system server{server_cfg};
  // With an argument: see docs/caf-0.17.md, "Spawning".
  auto echo = server.spawn(
    [](int32_t base) -> caf::behavior {
      return {[base](int32_t x) { return x + base; }};
    },
    int32_t{0});
  auto port = server.middleman().publish(echo, 0, "127.0.0.1");
  if (!port)
    die("publish: " + server.render(port.error()));
  caf::actor_system_config client_cfg;
  client_cfg.load<caf::io::middleman>();
  caf::actor_system sys{client_cfg};
  summary result;
  {
    auto remote = sys.middleman().remote_actor("127.0.0.1", *port);
    if (!remote)
      die("remote_actor: " + sys.render(remote.error()));
    caf::scoped_actor self{sys};
    result = time_calls(seconds, [&] {
      self->request(*remote, std::chrono::seconds{5}, int32_t{1})
        .receive([](int32_t) {},
                 [](caf::error& err) { die(caf::to_string(err)); });
    });
  }
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  // This thread spawned into both systems: it must not keep their loggers.
  release_thread_logger();
  return result;
}

/// An agent's and an orchestrator's TLS files, in a directory of their own.
struct tls_files {
  std::filesystem::path dir;
  cluster_tls agent;
  cluster_tls orchestrator;

  tls_files() {
    std::string tmpl = "/tmp/labrt-bench-tls-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
      die("mkdtemp failed");
    dir = tmpl;
    auto cmd = std::string{LABRT_CLUSTER_CERTS} + " " + tmpl
               + " --orchestrator lab --agent dut >/dev/null";
    if (std::system(cmd.c_str()) != 0)
      die("cannot make certificates: " + cmd);
    auto in = [&](const char* name) { return (dir / name).string(); };
    agent = {in("orchestrators-ca.pem"), in("dut.pem"), in("dut.key")};
    orchestrator = {in("agents-ca.pem"), in("lab.pem"), in("lab.key")};
  }
  ~tls_files() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  tls_files(const tls_files&) = delete;
  tls_files& operator=(const tls_files&) = delete;
};

/// Runs started on dut0 through the orchestrator, each until its view shows
/// the run running: from the call (which returns once the script exec'd)
/// and from its reply.
void start_to_view(client& remote, int runs) {
  std::vector<double> from_call;
  std::vector<double> from_reply;
  for (int i = 0; i < runs; ++i) {
    run_spec spec;
    spec.script = "/bin/sleep";
    spec.args = {"30"};
    auto t0 = clock_type::now();
    auto rec = remote.cluster().start("dut0", spec);
    if (!rec)
      die("routed start failed: " + render(rec.error()));
    auto t1 = clock_type::now();
    for (;;) {
      auto view = remote.cluster().hosts();
      if (!view)
        die(render(view.error()));
      auto& run = (*view)["hosts"]["dut0"]["run"];
      if (run.is_object() && run.value("run_id", "") == rec->run_id
          && run.value("state", "") == "running")
        break;
      if (clock_type::now() - t0 > std::chrono::seconds{10})
        die("the view never showed run " + rec->run_id);
      std::this_thread::yield();
    }
    from_call.push_back(us_since(t0));
    from_reply.push_back(us_since(t1));
    if (!remote.cluster().stop("dut0"))
      die("routed stop failed");
  }
  print("start -> shown running in the view", summarize(std::move(from_call)));
  print("start's reply -> shown running", summarize(std::move(from_reply)));
}

void round_trips(double seconds) {
  std::vector<std::unique_ptr<runtime>> agents;
  agents.push_back(make_agent());
  auto orch = make_orchestrator(agents);
  {
    client local{*agents[0]};
    client remote{*orch};
    await_up(remote, 1);
    print("queue read, agent's own facade", time_calls(seconds, [&] {
            if (!local.runner().queue())
              die("local queue read failed");
          }));
    print("queue read, through the orchestrator", time_calls(seconds, [&] {
            if (!remote.cluster().queue("dut0"))
              die("remote queue read failed");
          }));
    print("view read (GET /api/cluster), orchestrator",
          time_calls(seconds, [&] {
            if (!remote.cluster().hosts())
              die("view read failed");
          }));
    start_to_view(remote, 30);
  }
  print("bare CAF remote request (floor)", bare_caf(seconds));
  tls_files tls;
  std::vector<std::unique_ptr<runtime>> tls_agents;
  tls_agents.push_back(make_agent(tls.agent));
  auto tls_orch = make_orchestrator(tls_agents, tls.orchestrator);
  client remote{*tls_orch};
  await_up(remote, 1);
  print("queue read, through the orchestrator, TLS", time_calls(seconds, [&] {
          if (!remote.cluster().queue("dut0"))
            die("remote queue read over TLS failed");
        }));
}

uint64_t last_event_id(runtime& rt) {
  caf::scoped_actor self{rt.system()};
  uint64_t id = 0;
  self->request(rt.events(), std::chrono::seconds{5}, atom::metrics_v)
    .receive([&](const json& m) { id = m.value("last_id", uint64_t{0}); },
             [](caf::error& err) { die(render(err)); });
  release_thread_logger();
  return id;
}

long rss_kb() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

void events_and_down(size_t n, double seconds) {
  std::vector<std::unique_ptr<runtime>> agents;
  for (size_t i = 0; i < n; ++i)
    agents.push_back(make_agent());
  auto orch = make_orchestrator(agents);
  client view{*orch};
  await_up(view, n);
  // Writers: one thread per agent, each setting its own keys.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> writes{0};
  std::vector<std::thread> writers;
  for (auto& agent : agents)
    writers.emplace_back([&, rt = agent.get()] {
      {
        client c{*rt};
        for (uint64_t i = 0; !stop.load(); ++i)
          if (c.kv().set("k" + std::to_string(i % 100), json(i)))
            writes.fetch_add(1);
      }
      release_thread_logger();
    });
  auto id0 = last_event_id(*orch);
  auto w0 = writes.load();
  auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  auto id1 = last_event_id(*orch);
  auto w1 = writes.load();
  auto dt = std::chrono::duration<double>(clock_type::now() - t0).count();
  stop = true;
  for (auto& t : writers)
    t.join();
  std::printf("%2zu agents: %8.0f agent writes/s, %8.0f events/s reached the "
              "orchestrator\n",
              n, static_cast<double>(w1 - w0) / dt,
              static_cast<double>(id1 - id0) / dt);
  // Down: the first agent goes; the orchestrator's view follows.
  auto t1 = clock_type::now();
  agents[0].reset();
  for (;;) {
    auto v = view.cluster().hosts();
    if (v && !(*v)["hosts"]["dut0"].value("up", true))
      break;
    if (clock_type::now() - t1 > std::chrono::seconds{10})
      die("dut0 never marked down");
    std::this_thread::yield();
  }
  std::printf("%2zu agents: an agent that shut down was marked down in %.1f "
              "ms; process max RSS %ld MB\n",
              n,
              std::chrono::duration<double, std::milli>(clock_type::now() - t1)
                .count(),
              rss_kb() / 1024);
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0); // Each figure as it comes.
  double seconds = 2;
  std::vector<size_t> counts{3, 10};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (flag == "--agents") {
      counts.clear();
      std::string list = argv[i + 1];
      for (size_t at = 0; at < list.size();) {
        auto comma = list.find(',', at);
        counts.push_back(std::stoul(list.substr(at, comma - at)));
        at = comma == std::string::npos ? list.size() : comma + 1;
      }
    } else {
      die("usage: labrt-bench-cluster [--seconds S] [--agents N,N,...]");
    }
  }
  round_trips(seconds);
  for (auto n : counts)
    events_and_down(n, seconds);
  return 0;
}
