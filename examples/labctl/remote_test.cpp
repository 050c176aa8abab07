// Client commands for test runs: `labctl test start|stop|status`,
// `labctl queue add|list|rm`, `labctl logs` and `labctl history`.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "commands.hpp"
#include "remote.hpp"

namespace labctl {

namespace {

using labrt::json;
using namespace std::chrono_literals;

/// What `test start` and `queue add` send.
struct start_options {
  std::string script;
  std::vector<std::string> args;
  std::string topology;
  std::string bin;
  double timeout_s = -1;
  bool follow = false;

  json body() const {
    json spec = {{"script", script}, {"args", args}};
    if (!topology.empty())
      spec["topology"] = topology;
    if (!bin.empty())
      spec["bin"] = bin;
    if (timeout_s >= 0)
      spec["timeout_ms"] = static_cast<int64_t>(timeout_s * 1000.0 + 0.5);
    return spec;
  }
};

// -- the live status line ----------------------------------------------------

void clear_and_die(int sig) {
  // Only async-signal-safe calls: leave a clean terminal, then die of `sig`.
  const char clear[] = "\r\033[K";
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, clear, sizeof clear - 1);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

/// While a run is followed on a terminal: "[run X: 12.3 s, 42 lines]" on
/// stderr, redrawn every 200 ms and around output, cleared at the end.
/// Inert when stderr is not a terminal, so pipes get only the log.
class status_line {
public:
  explicit status_line(std::string run_id)
    : active_(::isatty(STDERR_FILENO) == 1), run_id_(std::move(run_id)) {
    if (!active_)
      return;
    ::signal(SIGINT, clear_and_die);
    ::signal(SIGTERM, clear_and_die);
    ticker_ = std::thread{[this] {
      std::unique_lock<std::mutex> guard{mtx_};
      while (!done_) {
        draw();
        wake_.wait_for(guard, 200ms);
      }
    }};
  }

  ~status_line() {
    if (!active_)
      return;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      done_ = true;
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
    }
    wake_.notify_all();
    ticker_.join();
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
  }

  /// Writes a piece of the log to stdout, under the status line.
  void output(const char* data, size_t n) {
    std::unique_lock<std::mutex> guard{mtx_, std::defer_lock};
    if (active_) {
      guard.lock();
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
    }
    std::fwrite(data, 1, n, stdout);
    std::fflush(stdout);
    for (size_t i = 0; i < n; ++i)
      lines_ += data[i] == '\n' ? 1 : 0;
    if (active_)
      draw();
  }

private:
  void draw() {
    auto secs = std::chrono::duration<double>(
                  std::chrono::steady_clock::now() - start_)
                  .count();
    std::fprintf(stderr, "\r\033[K[labctl: run %s, %.1f s, %llu lines]",
                 run_id_.empty() ? "?" : run_id_.c_str(), secs,
                 static_cast<unsigned long long>(lines_));
    std::fflush(stderr);
  }

  bool active_;
  std::string run_id_;
  uint64_t lines_ = 0;
  bool done_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mtx_; // Both threads write the terminal (examples/, not src/).
  std::condition_variable wake_;
  std::thread ticker_;
};

/// Tails a run's log until it ends, then exits with its outcome like
/// `labctl run`; with --json the final record is the last stdout line.
int follow(api_client& api, const client_options& opt,
           const std::string& run_id) {
  auto path = on_host(opt, "/api/test/logs?follow=1");
  if (!run_id.empty())
    path += "&run=" + run_id;
  api_result tail;
  {
    status_line line{run_id};
    tail = api.stream(path, [&](const char* data, size_t n) {
      line.output(data, n);
      return true;
    });
  }
  if (!tail)
    return report_failure(tail, opt.as_json);
  auto id = run_id.empty() ? tail.run_id : run_id;
  auto rec = api.get(on_host(opt, "/api/test/runs/" + id));
  if (!rec)
    return report_failure(rec, opt.as_json);
  if (opt.as_json)
    std::cout << rec.text << std::endl;
  auto error = rec.body.value("error", json{});
  if (error.is_string())
    std::cerr << "labctl: note: " << error.get<std::string>() << "\n";
  return outcome_of(rec.body);
}

std::string outcome_text(const json& rec) {
  if (rec.value("timed_out", false))
    return "timeout";
  if (auto sig = rec.value("signal", json{}); sig.is_object())
    return cell(sig.value("name", json{}));
  return cell(rec.value("exit_code", json{}));
}

void print_record(const json& rec) {
  print_table({"FIELD", "VALUE"},
              {{"run", cell(rec.value("run_id", json{}))},
               {"state", cell(rec.value("state", json{}))},
               {"script", cell(rec.value("script", json{}))},
               {"args", cell(rec.value("args", json{}))},
               {"pid", cell(rec.value("pid", json{}))},
               {"started", cell(rec.value("started_at", json{}))},
               {"ended", cell(rec.value("ended_at", json{}))},
               {"exit", outcome_text(rec)},
               {"stopped by", cell(rec.value("stopped_by", json{}))},
               {"log", cell(rec.value("log", json{}), 200)}});
}

void print_runs(const json& runs) {
  std::vector<std::vector<std::string>> rows;
  for (auto& rec : runs) {
    auto ended = rec.value("state", std::string{}) == "finished";
    rows.push_back({cell(rec.value("run_id", json{})),
                    cell(rec.value("state", json{})),
                    cell(rec.value("script", json{})),
                    cell(rec.value("args", json{}), 30),
                    ended ? outcome_text(rec) : "-",
                    cell(rec.value("started_at", json{})),
                    ended ? cell(rec.value("duration_ms", json{})) : "-"});
  }
  print_table({"RUN", "STATE", "SCRIPT", "ARGS", "EXIT", "STARTED", "MS"},
              rows);
}

/// Registers a command whose callback runs `fn` against the server.
/// `routable`: an orchestrator sends it on to --host.
CLI::App* command(CLI::App& parent, const std::string& name,
                  const std::string& help, const client_ptr& opt,
                  int& exit_code, std::function<int(api_client&)> fn,
                  bool routable = false) {
  auto cmd = parent.add_subcommand(name, help);
  cmd->callback([opt, fn, &exit_code, routable] {
    exit_code = call(*opt, fn, routable);
  });
  return cmd;
}

void add_start_options(CLI::App* cmd, start_options& s) {
  cmd->add_option("script", s.script, "The script, relative to a root")
    ->required();
  cmd->add_option("args", s.args, "Arguments for the script (after --)");
}

} // namespace

void add_test_commands(CLI::App& app, const client_ptr& opt, int& exit_code) {
  auto test = app.add_subcommand("test", "Start, stop or look at the daemon's "
                                         "test run");
  test->require_subcommand(1);
  auto s = std::make_shared<start_options>();
  auto start = command(
    *test, "start", "Start a script (409: one already runs)", opt, exit_code,
    [opt, s](api_client& api) -> int {
      auto res = api.post(on_host(*opt, "/api/test/start"), s->body());
      if (!res || !s->follow)
        return show(res, *opt, [](const json& rec) {
          std::cout << "started run " << cell(rec.value("run_id", json{}))
                    << ": " << cell(rec.value("script", json{})) << " (pid "
                    << cell(rec.value("pid", json{})) << ")\n";
        });
      return follow(api, *opt, res.body.value("run_id", std::string{}));
    },
    true);
  add_start_options(start, *s);
  start->add_option("--topology", s->topology, "Recorded with the run");
  start->add_option("--bin", s->bin, "Recorded with the run");
  start->add_option("--timeout", s->timeout_s, "Stop the run after S seconds")
    ->check(seconds_check());
  start->add_flag("--follow,-f", s->follow,
                  "Stream its log and exit with its outcome");
  command(*test, "stop", "Stop the running test's whole process tree", opt,
          exit_code, [opt](api_client& api) {
            return show(api.post(on_host(*opt, "/api/test/stop"),
                                 json::object()),
                        *opt, print_record);
          },
          true);
  command(*test, "status", "The test state (running, script, pid, ...)", opt,
          exit_code, [opt](api_client& api) {
            return show(api.get("/api/test/status"), *opt, [](const json& st) {
              std::vector<std::vector<std::string>> rows;
              for (auto& [key, value] : st.items())
                rows.push_back({key, cell(value, 200)});
              print_table({"FIELD", "VALUE"}, rows);
            });
          });

  auto queue = app.add_subcommand("queue", "The daemon's FIFO of runs");
  queue->require_subcommand(1);
  auto q = std::make_shared<start_options>();
  auto add = command(*queue, "add", "Queue a script (starts now if idle)", opt,
                     exit_code, [opt, q](api_client& api) {
                       return show(api.post(on_host(*opt, "/api/test/queue"),
                                            q->body()),
                                   *opt,
                                   [](const json& rec) {
                                     std::cout
                                       << cell(rec.value("state", json{}))
                                       << " run "
                                       << cell(rec.value("run_id", json{}))
                                       << "\n";
                                   });
                     },
                     true);
  add_start_options(add, *q);
  command(*queue, "list", "Runs waiting their turn", opt, exit_code,
          [opt](api_client& api) {
            return show(api.get(on_host(*opt, "/api/test/queue")), *opt,
                        print_runs);
          },
          true);
  auto id = std::make_shared<std::string>();
  command(*queue, "rm", "Cancel a queued run", opt, exit_code,
          [opt, id](api_client& api) {
            return show(api.del(on_host(*opt, "/api/test/queue/" + *id)),
                        *opt, [](const json& rec) {
                          std::cout << "cancelled run "
                                    << cell(rec.value("run_id", json{}))
                                    << "\n";
                        });
          },
          true)
    ->add_option("id", *id, "The run id")
    ->required();

  auto run = std::make_shared<std::string>();
  auto tail = std::make_shared<bool>(false);
  auto logs = command(
    app, "logs", "The log of the current (or last, or --run) run", opt,
    exit_code, [opt, run, tail](api_client& api) {
      if (*tail)
        return follow(api, *opt, *run);
      auto res = api.stream(
        on_host(*opt, run->empty() ? "/api/test/logs"
                                   : "/api/test/logs?run=" + *run),
        [](const char* data, size_t n) {
          std::fwrite(data, 1, n, stdout);
          return true;
        });
      std::fflush(stdout);
      return res ? exit_ok : report_failure(res, opt->as_json);
    },
    true);
  logs->add_flag("--follow,-f", *tail,
                 "Until the run ends; exit with its outcome");
  logs->add_option("--run", *run, "A run id");

  auto limit = std::make_shared<int>(20);
  // --script, --outcome, --grep, --since, --until, --before: the query's
  // parameters (docs/http-api.md), sent when given.
  auto filters = std::make_shared<std::map<std::string, std::string>>();
  auto history = command(
    app, "history", "Finished runs, newest first", opt, exit_code,
    [opt, limit, filters](api_client& api) {
      auto path = on_host(*opt, "/api/history?limit=")
                  + std::to_string(*limit);
      for (auto& [param, value] : *filters)
        if (!value.empty())
          path += "&" + param + "=" + url_encode(value);
      return show(api.get(path), *opt, print_runs);
    },
    true);
  history->add_option("-n", *limit, "How many runs (default 20)")
    ->check(CLI::Range(0, 999999));
  for (auto [flag, param, help] :
       {std::tuple{"--script", "script", "Only runs of this script"},
        {"--outcome", "outcome",
         "passed, failed, timed_out, stopped, crashed, not_started or "
         "cancelled"},
        {"--grep", "q", "Words that must all be in script, args, bin or "
                        "topology"},
        {"--since", "since", "Ended at or after (2026-12-01 or an ISO time)"},
        {"--until", "until", "Ended before"},
        {"--before", "before", "Older than this run (the next page)"}})
    history->add_option(flag, (*filters)[param], help);
}

} // namespace labctl
