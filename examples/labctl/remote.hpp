// What the client commands share: the global options, one call wrapper and
// readable output helpers. Each command stays a request plus a printer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "http_client.hpp"

namespace labctl {

/// --server, --token, --json: set on the top-level app, read by every
/// client command.
struct client_options {
  connection conn;
  bool as_json = false;
  /// --host: an orchestrator's host that routable commands go to.
  std::string host;
};

using client_ptr = std::shared_ptr<client_options>;

/// Connects and runs `fn`; exit_usage if --server is malformed, or if
/// --host is given to a command the orchestrator does not route.
int call(const client_options& opt, const std::function<int(api_client&)>& fn,
         bool routable = false);

/// An API path on the daemon, or with --host on that host through the
/// orchestrator: /api/test/start -> /api/cluster/dut1/test/start.
std::string on_host(const client_options& opt, const std::string& path);

/// On success prints the raw body with --json, else `human(body)`; on
/// failure prints the API's message. Returns the exit code.
int show(const api_result& res, const client_options& opt,
         const std::function<void(const labrt::json&)>& human);

/// Prints rows as aligned columns under `header`.
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

/// A table cell: strings as they are, null as "-", anything else as JSON,
/// cut to `max` characters.
std::string cell(const labrt::json& value, size_t max = 60);

/// The run record's outcome as `labctl run` reports it (timeout(1) codes).
int outcome_of(const labrt::json& record);

/// `labctl test ...`, `labctl queue ...`, `labctl logs`, `labctl history`.
void add_test_commands(CLI::App& app, const client_ptr& opt, int& exit_code);

/// `labctl kv ...`.
void add_kv_commands(CLI::App& app, const client_ptr& opt, int& exit_code);

} // namespace labctl
