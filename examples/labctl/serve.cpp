// `labctl serve --config FILE [--listen HOST:PORT]`: the daemon.
#include <malloc.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "labrt/errc.hpp"
#include "labrt/http.hpp"
#include "labrt/types.hpp"

namespace labctl {

namespace {

/// The signals that shut the daemon down. SIGHUP is a closed terminal or
/// ssh session: its default action would kill the daemon on the spot and
/// leave the current run's tree behind.
sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

/// Serves until a shutdown signal. The signals are blocked before serve()
/// starts any thread, so every thread inherits the mask and only the one
/// here takes them.
int serve_until_signal(labrt::daemon_config cfg) {
  auto set = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  labrt::serve_stop stop;
  std::atomic<bool> done{false};
  std::thread signals{[&] {
    timespec tick{0, 200'000'000};
    while (!done.load()) {
      if (int sig = sigtimedwait(&set, nullptr, &tick); sig > 0) {
        std::cerr << labrt::to_iso8601(caf::make_timestamp()) << " received SIG"
                  << sigabbrev_np(sig) << ", shutting down" << std::endl;
        stop.request();
        return;
      }
    }
  }};
  auto code = labrt::serve(std::move(cfg), std::cerr, stop);
  done.store(true);
  signals.join();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  return code;
}

} // namespace

void add_serve(CLI::App& app, int& exit_code) {
  auto cmd = app.add_subcommand(
    "serve", "Run the daemon: managers, monitor, runner and the HTTP API");
  auto config = std::make_shared<std::string>();
  auto listen = std::make_shared<std::string>();
  cmd->add_option("--config", *config, "JSON config file")->required();
  cmd->add_option("--listen", *listen, "HOST:PORT, overrides http.listen");
  cmd->callback([config, listen, &exit_code] {
    auto overrides = listen->empty()
                       ? labrt::json{}
                       : labrt::json{{"http", {{"listen", *listen}}}};
    auto cfg = labrt::load_config(*config, overrides);
    if (!cfg) {
      std::cerr << "labctl serve: " << labrt::message_of(cfg.error()) << "\n";
      exit_code = 2;
      return;
    }
    // glibc gives threads up to 8 malloc arenas per core, each keeping what
    // it freed: spread over the HTTP pool's threads, the daemon's heap grew
    // several times over (bench/README.md, the soak).
    ::mallopt(M_ARENA_MAX,
              static_cast<int>(std::max(2U, std::thread::hardware_concurrency())));
    exit_code = serve_until_signal(std::move(*cfg));
  });
}

} // namespace labctl
