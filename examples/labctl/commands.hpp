// labctl's subcommands; each file registers one on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

#include "labrt/run_types.hpp"

namespace labctl {

/// `labctl demo`: the managers at work, with concurrent clients and events.
/// Each add_* registers a subcommand whose callback stores its exit code.
void add_demo(CLI::App& app, int& exit_code);

/// `labctl run [--config FILE] [--timeout S] [--grace S] [--log FILE]
/// [--json] SCRIPT [-- ARGS...]`: one script through the test runner.
void add_run(CLI::App& app, int& exit_code);

/// `labctl ps --config FILE [--json]`: one scan with the configured service
/// rules; prints each service with running, pids and since.
void add_ps(CLI::App& app, int& exit_code);

/// `labctl serve --config FILE [--listen HOST:PORT]`: the daemon with the
/// HTTP/JSON API, until SIGINT/SIGTERM.
void add_serve(CLI::App& app, int& exit_code);

/// The client of a running daemon: --server/--token/--json on `app` and the
/// commands status, services, test, queue, logs, kv, history and watch.
void add_client(CLI::App& app, int& exit_code);

/// Checks a duration in seconds (--timeout, --grace): a number from 0 to
/// labrt::max_duration_ms; "abc" is "not a number".
CLI::Validator seconds_check();

/// A finished run's exit code like timeout(1): its code, 128+N for signal
/// N (or for `stop_signal` that labctl forwarded), 124 on timeout, else 125.
int run_exit_code(const labrt::run_record& rec, int stop_signal);

} // namespace labctl
