// labrt::serve: the runtime, the HTTP API and the event log.
#include <malloc.h>

#include <atomic>
#include <ostream>
#include <thread>

#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/event_stream.hpp"
#include "labrt/event_text.hpp"
#include "labrt/http.hpp"
#include "labrt/runtime.hpp"
#include "src/http/server_impl.hpp"
#include "src/run_dir.hpp"
#include "src/state_dir.hpp"

namespace labrt {

namespace {

using namespace std::chrono_literals;

/// Logs the hub's events until `drain` is set and nothing more comes, or the
/// runtime stops.
void log_events(runtime& rt, std::ostream& log,
                const std::atomic<bool>& drain) {
  // Only what happens from now on: the hub may hold older events.
  auto stream = event_stream::open(rt, events_from_now);
  if (!stream) {
    log << "labrt: no event log: " << render(stream.error()) << std::endl;
    return;
  }
  // Seeded with the test slot as it is: a run re-adopted at start holds it
  // already, and its end must be told by name.
  client c{rt};
  auto state = c.tests().get_state();
  event_describer words{state ? *state : json::object()};
  auto note = [&log](const std::string& line) {
    if (!line.empty())
      log << to_iso8601(caf::make_timestamp()) << " " << line << std::endl;
  };
  for (;;) {
    auto batch = stream->next(200ms);
    // After `drain`, go on until quiet: the end of a run stopped at
    // shutdown is on its way to us.
    if (!batch || (drain.load() && batch->events.empty()))
      return;
    if (batch->missed > 0)
      note(words.line("missed", {{"missed", batch->missed}}));
    for (auto& ev : batch->events) {
      // kv writes are lab software's business and may come by the thousand.
      if (ev.kind == "kv")
        continue;
      // Run output gets no line: not worth parsing, and a flood brings a
      // large batch after another.
      if (ev.kind == "output")
        continue;
      note(words.line(ev.kind, json::parse(ev.data, nullptr, false)));
    }
  }
}

/// Stops `server` once `stop` is requested, or returns when `done` is set.
/// Meanwhile, once a minute, hands the memory glibc's arenas keep free back
/// to the system: after a burst (a flood of output, many connections) it
/// would otherwise stay resident for the daemon's life.
void await_stop(http_server& server, const serve_stop& stop,
                const std::atomic<bool>& done) {
  auto next_trim = std::chrono::steady_clock::now() + 1min;
  while (!done.load()) {
    if (stop.requested()) {
      server.stop();
      return;
    }
    if (auto now = std::chrono::steady_clock::now(); now >= next_trim) {
      ::malloc_trim(0);
      next_trim = now + 1min;
    }
    std::this_thread::sleep_for(50ms);
  }
}

} // namespace

int serve(daemon_config cfg, std::ostream& log, const serve_stop& stop) {
  // Also here, for a daemon_config built in code rather than read.
  if (auto err = check_daemon_roots(cfg.runtime.runner)) {
    log << "labrt: " << message_of(err) << std::endl;
    return 2;
  }
  unique_fd state_lock;
  if (cfg.state_dir.empty()) {
    log << "labrt: no state_dir in the config: the kv store, the queue and "
           "the history live in memory only and end with this daemon"
        << std::endl;
  } else {
    auto locked = lock_state_dir(cfg.state_dir);
    if (!locked) {
      log << "labrt: " << message_of(locked.error()) << std::endl;
      // Another daemon's state is a start error like its port.
      return code_of(locked.error()) == errc::already_running ? 2 : 1;
    }
    state_lock = std::move(*locked);
    // Runs live in shims there and outlive this daemon.
    auto& runner = cfg.runtime.runner;
    if (runner.runs_dir.empty())
      runner.runs_dir = cfg.state_dir + "/runs";
    // A run id has 23 to 30 characters: "<runs_dir>/<id>/sock" must fit.
    if (runner.runs_dir.size() + 1 + 30 + 5 > max_socket_path) {
      log << "labrt: state_dir " << cfg.state_dir << " is too long: a run's "
          << "socket path under it must fit in " << max_socket_path
          << " bytes" << std::endl;
      return 2;
    }
  }
  auto rt = runtime::make(cfg.runtime);
  if (!rt) {
    log << "labrt: " << message_of(rt.error()) << std::endl;
    // A corrupt or unwritable database, like a bad config, needs a person.
    auto code = code_of(rt.error());
    return code == errc::invalid_argument || code == errc::storage_failed ? 2
                                                                          : 1;
  }
  if (!cfg.runtime.runner.runs_dir.empty() && (*rt)->runner()) {
    // The runner answers once it took back the runs the last daemon left:
    // nobody is served a state without them.
    auto t0 = std::chrono::steady_clock::now();
    client c{**rt};
    auto cur = c.runner().status();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0).count();
    if (cur)
      log << to_iso8601(caf::make_timestamp()) << " re-adopted run "
          << cur->run_id << " (" << cur->script << ", pid " << cur->pid
          << ") in " << ms << " ms" << std::endl;
  }
  auto server = http_server::make(**rt, cfg.http, cfg.name, &log);
  if (!server) {
    // A taken port, a bad address, a refused bind: the daemon cannot do its
    // one job as configured, which is a start error like a bad config.
    log << "labrt: " << message_of(server.error()) << std::endl;
    return 2;
  }
  std::atomic<bool> done{false};
  std::atomic<bool> drain{false};
  std::thread logger{[&] { log_events(**rt, log, drain); }};
  std::thread stopper{[&] { await_stop(**server, stop, done); }};
  auto& cluster = cfg.runtime.cluster;
  if (auto port = (*rt)->agent_port())
    log << to_iso8601(caf::make_timestamp()) << " cluster agent on "
        << host_port(cluster.publish_host, port) << std::endl;
  if (!cluster.peers.empty())
    log << to_iso8601(caf::make_timestamp()) << " following "
        << cluster.peers.size() << " cluster agents" << std::endl;
  log << to_iso8601(caf::make_timestamp()) << " " << cfg.name
      << " serving on " << (*server)->url() << " ("
      << cfg.runtime.monitor.services.size() << " services watched, "
      << (cfg.runtime.runner.enabled
            ? "scripts under " + json(cfg.runtime.runner.roots).dump()
            : std::string{"no runner"})
      << ")" << std::endl;
  (*server)->run();
  done.store(true);
  stopper.join();
  server->reset(); // Every worker thread (and its client) is gone now.
  if (cfg.runtime.runner.stop_on_shutdown && (*rt)->runner()) {
    // Stopped here rather than by runtime::shutdown, so that the event log
    // still sees the run end.
    client c{**rt};
    // The queue first: the end of the stopped run must not start the next.
    if (auto queued = c.runner().queue())
      for (auto& run : *queued)
        static_cast<void>(c.runner().cancel(run.run_id));
    auto rec = c.runner().stop("", "shutdown");
    if (rec)
      log << to_iso8601(caf::make_timestamp()) << " stopped run "
          << rec->run_id << std::endl;
    else if (code_of(rec.error()) != errc::not_running)
      log << "labrt: stopping the current run failed: " << render(rec.error())
          << std::endl;
  }
  drain.store(true);
  logger.join();
  (*rt)->shutdown();
  log << to_iso8601(caf::make_timestamp()) << " stopped" << std::endl;
  return 0;
}

} // namespace labrt
