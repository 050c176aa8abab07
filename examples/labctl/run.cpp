// `labctl run`: one script through an embedded runtime's test runner (the
// code path the daemon uses), its output streamed to the terminal, exit code
// like timeout(1): the script's code, 128+N if killed by signal N, 124 on
// timeout; SIGINT/SIGTERM/SIGHUP to labctl stop the run's whole tree and
// exit 130/143/129.
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "commands.hpp"
#include "labrt/client.hpp"
#include "labrt/config.hpp"
#include "labrt/errc.hpp"
#include "labrt/runtime.hpp"

namespace labctl {

namespace {

using namespace labrt;

struct run_options {
  std::string config;
  double timeout_s = -1;
  double grace_s = -1;
  std::string log;
  bool json_out = false;
  std::string script;
  std::vector<std::string> args;
};

/// Prints output batches: stdout lines to stdout, stderr lines to stderr.
/// Detached, since a slow terminal blocks the writes. (`note_drops` also
/// keeps CAF 0.17 from spawning it with an empty argument tuple, which
/// UBSan flags inside CAF.)
run_output_actor::behavior_type printer(
  run_output_actor::pointer, bool note_drops) {
  return {
    [note_drops](output_batch& batch) {
      if (note_drops && batch.dropped > 0)
        std::fprintf(stderr, "[labctl: %llu lines not shown; see the log]\n",
          static_cast<unsigned long long>(batch.dropped));
      for (auto& line : batch.lines) {
        auto out = line.stream == 2 ? stderr : stdout;
        std::fwrite(line.text.data(), 1, line.text.size(), out);
        std::fputc('\n', out);
      }
      std::fflush(stdout);
      std::fflush(stderr);
    },
    [](const run_update&) {
      // labctl run reports the run itself, from the runner's reply.
    },
    [](const queue_update&) {
      // Only this run's output is printed.
    },
  };
}

int64_t to_ms(double seconds) {
  return static_cast<int64_t>(std::llround(seconds * 1000.0));
}

/// timeout(1)'s codes for a run that never started.
int start_failure_code(const caf::error& err) {
  switch (code_of(err)) {
    case errc::not_found: return 127;
    case errc::spawn_failed:
    case errc::forbidden: return 126;
    default: return 125;
  }
}

int run_script(const run_options& opt) {
  runtime_config cfg;
  if (!opt.config.empty()) {
    auto rc = load_runner_config(opt.config);
    if (!rc) {
      std::cerr << "labctl: " << render(rc.error()) << "\n";
      return 125;
    }
    cfg.runner = std::move(*rc);
  } else {
    // A local user may run any script path.
    cfg.runner.roots.clear();
  }
  if (opt.grace_s >= 0)
    cfg.runner.grace_ms = to_ms(opt.grace_s);
  cfg.max_threads = 2;
  // SIGINT/SIGTERM/SIGHUP go to a signalfd, read by one thread: blocked
  // here before any other thread exists, so every thread inherits the mask
  // (the child gets a clean one from spawn). SIGHUP is a closed terminal:
  // left to its default it would kill labctl and orphan the run's tree.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  int sfd = ::signalfd(-1, &stop_signals, SFD_CLOEXEC);
  int quit_fd = ::eventfd(0, EFD_CLOEXEC);
  if (sfd < 0 || quit_fd < 0) {
    std::perror("labctl: signalfd");
    return 125;
  }
  auto rt = runtime::make(cfg);
  if (!rt) {
    std::cerr << "labctl: " << render((rt.error())) << "\n";
    return 125;
  }
  auto& sys = (*rt)->system();
  auto runner = (*rt)->runner();
  auto print = sys.spawn<caf::detached>(printer, true);
  client c{**rt};
  int code = 0;
  {
    caf::scoped_actor self{sys};
    bool subscribed = false;
    self->request(runner, std::chrono::seconds{10}, atom::subscribe_v, print)
      .receive([&](std::string&) { subscribed = true; },
        [&](
          caf::error& err) { std::cerr << "labctl: " << render(err) << "\n"; });
    run_spec spec;
    spec.script = opt.script;
    spec.args = opt.args;
    spec.log = opt.log;
    if (opt.timeout_s >= 0)
      spec.timeout_ms = to_ms(opt.timeout_s);
    auto rec = subscribed
      ? c.runner().start(spec)
      : caf::expected<run_record>{make_error(errc::system_error, "no output")};
    if (!rec) {
      std::cerr << "labctl: " << render(rec.error()) << "\n";
      code = start_failure_code(rec.error());
    } else {
      // The signal thread: the first stop signal stops the run.
      int stop_signal = 0;
      auto run_id = rec->run_id;
      std::thread watcher{[&, runner, run_id] {
        pollfd pfds[2] = {{sfd, POLLIN, 0}, {quit_fd, POLLIN, 0}};
        while (::poll(pfds, 2, -1) >= 0 || errno == EINTR) {
          if (pfds[1].revents != 0)
            return;
          if (pfds[0].revents != 0) {
            signalfd_siginfo info;
            if (::read(sfd, &info, sizeof(info)) != sizeof(info))
              continue;
            auto sig = static_cast<int>(info.ssi_signo);
            stop_signal = sig;
            caf::anon_send(runner, atom::stop_v, run_id,
              "SIG" + std::string{::sigabbrev_np(sig)});
            return;
          }
        }
      }};
      auto done = c.runner().wait(run_id, std::chrono::hours{24 * 365});
      uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(quit_fd, &one, sizeof(one));
      watcher.join();
      // Everything the runner sent the printer before the end is in its
      // mailbox ahead of this request: when it answers, all is printed.
      self->request(print, std::chrono::seconds{30}, output_batch{})
        .receive([] {}, [](caf::error&) {});
      if (!done) {
        std::cerr << "labctl: " << render(done.error()) << "\n";
        code = 125;
      } else {
        code = run_exit_code(*done, stop_signal);
        if (!done->error.empty())
          std::cerr << "labctl: note: " << done->error << "\n";
        if (opt.json_out)
          std::cout << json(*done).dump() << std::endl;
      }
    }
    self->send_exit(print, caf::exit_reason::user_shutdown);
  }
  (*rt)->shutdown();
  ::close(sfd);
  ::close(quit_fd);
  return code;
}

} // namespace

int run_exit_code(const run_record& rec, int stop_signal) {
  if (stop_signal != 0)
    return 128 + stop_signal;
  if (rec.timed_out)
    return 124;
  if (rec.signal != 0)
    return 128 + rec.signal;
  if (rec.exit_code >= 0)
    return rec.exit_code;
  return 125;
}

CLI::Validator seconds_check() {
  return {[](std::string& text) -> std::string {
            char* end = nullptr;
            double s = std::strtod(text.c_str(), &end);
            if (text.empty() || end != text.c_str() + text.size()
                || !std::isfinite(s))
              return "'" + text + "' is not a number (seconds)";
            if (s < 0 || s * 1000.0 > static_cast<double>(max_duration_ms))
              return "must be from 0 to "
                     + std::to_string(max_duration_ms / 1000)
                     + " seconds (30 days), not " + text;
            return {};
          },
          "SECONDS"};
}

void add_run(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<run_options>();
  auto cmd = app.add_subcommand("run",
    "Run one script; exit like timeout(1): its code, 128+N on signal "
    "N, 124 on timeout");
  cmd->add_option("--config", opt->config,
    "JSON config file (its \"runner\" object: roots, logs_dir, "
    "grace_ms, timeout_ms, log_max_bytes)");
  cmd->add_option("--timeout", opt->timeout_s, "Stop the run after S seconds")
    ->check(seconds_check());
  cmd
    ->add_option("--grace", opt->grace_s,
      "Seconds between SIGTERM and SIGKILL when stopping")
    ->check(seconds_check());
  cmd->add_option("--log", opt->log, "Write the run's output to FILE");
  cmd->add_flag("--json", opt->json_out,
    "Print the run record as JSON as the last stdout line");
  cmd->add_option("script", opt->script, "The script to run")->required();
  cmd->add_option("args", opt->args, "Arguments for the script (after --)");
  cmd->callback([opt, &exit_code] { exit_code = run_script(*opt); });
}

} // namespace labctl
