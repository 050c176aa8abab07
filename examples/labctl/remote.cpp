// The client commands' shared options and helpers, plus `labctl status`,
// `labctl services` and `labctl watch`.
#include "remote.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

#include "commands.hpp"
#include "labrt/event_text.hpp"
#include "labrt/run_types.hpp"
#include "labrt/sse.hpp"

namespace labctl {

using labrt::json;

int call(const client_options& opt,
         const std::function<int(api_client&)>& fn, bool routable) {
  if (!opt.host.empty() && !routable) {
    std::cerr << "labctl: --host goes with test start|stop, queue, logs, "
                 "history and kv get|set|rm|list, which an orchestrator "
                 "routes to a host\n";
    return exit_usage;
  }
  std::string error;
  auto api = api_client::make(opt.conn, error);
  if (!api) {
    std::cerr << "labctl: " << error << "\n";
    return exit_usage;
  }
  return fn(*api);
}

std::string on_host(const client_options& opt, const std::string& path) {
  if (opt.host.empty())
    return path;
  // "/api/x" -> "/api/cluster/<host>/x"; a host name has no '/' or space.
  return "/api/cluster/" + url_encode(opt.host) + path.substr(4);
}

int show(const api_result& res, const client_options& opt,
         const std::function<void(const json&)>& human) {
  if (!res)
    return report_failure(res, opt.as_json);
  if (opt.as_json)
    std::cout << res.text << std::endl;
  else
    human(res.body);
  return exit_ok;
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i)
    widths[i] = header[i].size();
  for (auto& row : rows)
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size())
        out += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(header);
  for (auto& row : rows)
    line(row);
}

std::string cell(const json& value, size_t max) {
  auto text = value.is_null()     ? std::string{"-"}
              : value.is_string() ? value.get<std::string>()
                                  : value.dump();
  if (text.size() > max)
    text = text.substr(0, max - 3) + "...";
  return text;
}

int outcome_of(const json& record) {
  try {
    return run_exit_code(record.get<labrt::run_record>(), 0);
  } catch (const json::exception&) {
    return 125; // timeout(1)'s "the command itself failed".
  }
}

namespace {

/// `labctl status`: the server, its test and its services in one screen.
int status(api_client& api, const client_options& opt) {
  std::vector<api_result> parts;
  for (auto path :
       {"/healthz", "/api/test/status", "/api/services", "/api/test/queue"}) {
    parts.push_back(api.get(path));
    if (!parts.back())
      return report_failure(parts.back(), opt.as_json);
  }
  auto& health = parts[0];
  auto& test = parts[1];
  auto& services = parts[2];
  auto& queue = parts[3];
  if (opt.as_json) {
    std::cout << json{{"server", health.body},
                      {"test", test.body},
                      {"services", services.body.value("status", json{})},
                      {"queue", queue.body}}
                   .dump()
              << std::endl;
    return exit_ok;
  }
  auto& t = test.body;
  std::string test_line = "idle";
  if (t.value("running", false))
    test_line = "running " + cell(t.value("script", json{})) + " (pid "
                + cell(t.value("pid", json{})) + ", run "
                + cell(t.value("run_id", json{})) + ", since "
                + cell(t.value("start_time", json{})) + ")";
  std::vector<std::string> up;
  std::vector<std::string> down;
  auto flags = services.body.value("status", json::object());
  for (auto& [name, value] : flags.items())
    if (value.is_boolean())
      (value.get<bool>() ? up : down).push_back(name);
  auto names = [](const std::vector<std::string>& xs) {
    std::string out;
    for (auto& x : xs)
      out += (out.empty() ? "" : ", ") + x;
    return out.empty() ? std::string{"-"} : out;
  };
  print_table({"WHAT", "STATE"},
              {{"server", api.server() + " ("
                            + cell(health.body.value("name", json{})) + ")"},
               {"test", test_line},
               {"queue", std::to_string(queue.body.size()) + " waiting"},
               {"services up", names(up)},
               {"services down", names(down)}});
  return exit_ok;
}

std::string join_pids(const json& pids) {
  std::string out;
  for (auto& pid : pids)
    out += (out.empty() ? "" : ",") + pid.dump();
  return out.empty() ? "-" : out;
}

/// `labctl services`: watched services with pids, plus the plain status
/// flags the monitor does not own (e.g. set by lab software).
void print_services(const json& body) {
  std::vector<std::vector<std::string>> rows;
  std::set<std::string> seen;
  for (auto& rec : body.value("services", json::array())) {
    auto name = rec.value("name", std::string{});
    seen.insert(name);
    auto running = rec.value("running", false);
    rows.push_back({name, running ? "yes" : "no",
                    join_pids(rec.value("pids", json::array())),
                    running ? cell(rec.value("since", json{})) : "-"});
  }
  auto flags = body.value("status", json::object()); // items() needs an lvalue.
  for (auto& [name, value] : flags.items())
    if (value.is_boolean() && seen.count(name) == 0)
      rows.push_back({name, value.get<bool>() ? "yes" : "no", "-", "-"});
  print_table({"SERVICE", "RUNNING", "PIDS", "SINCE"}, rows);
}

/// One event as `labctl watch` prints it: JSON, or a line in the log's words.
void print_event(labrt::event_describer& words, const labrt::event& ev,
                 bool as_json) {
  auto body = json::parse(ev.data, nullptr, false);
  if (as_json) {
    std::cout << json{{"id", ev.id}, {"event", ev.kind}, {"data", body}}.dump()
              << std::endl;
    return;
  }
  auto line = words.line(ev.kind, body);
  if (line.empty())
    return;
  auto time = body.is_object() ? body.value("time", json{}) : json{};
  std::cout << (time.is_string() ? time.get<std::string>()
                                 : labrt::to_iso8601(caf::make_timestamp()))
            << " " << line << std::endl;
}

/// `labctl watch [--since ID]`: one line per event, in the daemon's log's
/// words, until Ctrl-C. From now on unless --since asks for the history the
/// server still holds after event ID. A lost stream (a daemon restart) is
/// resumed from the last event seen; the restarted daemon says what it
/// cannot replay ("missed").
int watch(api_client& api, const client_options& opt,
          std::optional<uint64_t> since) {
  labrt::json test_now = labrt::json::object();
  if (!since && !opt.as_json) {
    // A run already going is named when it ends.
    auto status = api.get("/api/test/status");
    if (!status)
      return report_failure(status, opt.as_json);
    test_now = status.body;
  }
  labrt::event_describer words{test_now};
  auto after = since ? *since : labrt::events_from_now;
  bool ever_open = false;
  for (;;) {
    labrt::sse::parser parser;
    bool open = false;
    auto res = api.stream(
      "/api/events?after=" + std::to_string(after),
      [&](const char* data, size_t n) {
        if (!open) {
          // The server subscribes before it answers: from here on nothing
          // is missed.
          open = true;
          std::cerr << "labctl: watching " << api.server()
                    << (ever_open && after != labrt::events_from_now
                          ? " again from event " + std::to_string(after)
                        : ever_open ? std::string{" again from now"}
                        : since     ? " from event " + std::to_string(*since)
                                    : std::string{" from now"})
                    << " (Ctrl-C to stop)" << std::endl;
          ever_open = true;
        }
        for (auto& ev : parser.feed({data, n}))
          print_event(words, ev, opt.as_json);
        after = parser.last_id().value_or(after);
        return true;
      });
    // A refusal (a bad token, say) is final; so is no server at the start.
    if ((!res && res.status != 0) || (!res && !ever_open))
      return report_failure(res, opt.as_json);
    if (open)
      std::cerr << "labctl: the event stream ended; reconnecting" << std::endl;
    std::this_thread::sleep_for(std::chrono::seconds{1});
  }
}

/// One row per host: up, address, the run in progress, running services.
void print_cluster(const json& body) {
  std::vector<std::vector<std::string>> rows;
  auto hosts = body.value("hosts", json::object());
  for (auto& [name, h] : hosts.items()) {
    std::string test = "-";
    auto run = h.value("run", json{});
    if (run.is_object())
      test = cell(run.value("script", json{}), 40) + " ("
             + run.value("state", std::string{}) + ")";
    int running = 0;
    int watched = 0;
    auto services = h.value("services", json::object());
    for (auto& value : services)
      if (value.is_boolean()) {
        ++watched;
        running += value.get<bool>() ? 1 : 0;
      }
    rows.push_back({name, h.value("up", false) ? "up" : "down",
                    cell(h.value("address", json{})), test,
                    std::to_string(running) + "/" + std::to_string(watched),
                    cell(h.value("last_seen", json{})),
                    cell(h.value("error", json{}))});
  }
  print_table({"HOST", "STATE", "ADDRESS", "RUN", "SERVICES", "LAST SEEN",
               "ERROR"},
              rows);
}

} // namespace

void add_client(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<client_options>();
  if (auto env = std::getenv("LABRT_SERVER"); env != nullptr && *env != '\0')
    opt->conn.server = env;
  if (auto env = std::getenv("LABRT_TOKEN"); env != nullptr)
    opt->conn.token = env;
  app.add_option("--server", opt->conn.server,
                 "The daemon's URL (env LABRT_SERVER, default "
                 "http://127.0.0.1:8080)");
  app.add_option("--token", opt->conn.token,
                 "Bearer token (env LABRT_TOKEN)");
  app.add_option("--host", opt->host,
                 "Through an orchestrator, the host that test start|stop, "
                 "queue, history and kv get|set|rm|list go to");
  app.add_flag("--json", opt->as_json,
               "Client commands print the API's raw JSON");
  // `labctl status --json` as well as `labctl --json status`.
  app.fallthrough();
  app.footer(
    "Client commands (status, services, test, queue, logs, kv, history, "
    "watch, cluster) exit with\n  0 ok, 1 the API said no (its message on stderr), "
    "2 bad usage or input,\n  3 the server cannot be reached, 4 not found; "
    "`test start --follow` and\n  `logs -f` exit with the run's outcome like "
    "`labctl run` (its code, 128+N on\n  signal N, 124 on timeout).");
  auto add = [&](const std::string& name, const std::string& help,
                 int (*fn)(api_client&, const client_options&)) {
    app.add_subcommand(name, help)->callback([opt, fn, &exit_code] {
      exit_code = call(*opt, [&](api_client& api) { return fn(api, *opt); });
    });
  };
  add("status", "The daemon's test, queue and services at a glance", status);
  add("services", "Watched services: running, pids, since",
      [](api_client& api, const client_options& o) {
        return show(api.get("/api/services"), o, print_services);
      });
  add("cluster", "An orchestrator's hosts: up, run, services, last seen",
      [](api_client& api, const client_options& o) {
        return show(api.get("/api/cluster"), o, print_cluster);
      });
  auto since = std::make_shared<std::optional<uint64_t>>();
  app
    .add_subcommand("watch", "Print the daemon's events as they happen, one "
                             "line each, until Ctrl-C")
    ->callback([opt, since, &exit_code] {
      exit_code = call(*opt, [&](api_client& api) {
        return watch(api, *opt, *since);
      });
    })
    ->add_option("--since", *since,
                 "First replay what the server still holds after event ID "
                 "(0: all of it)");
  add_test_commands(app, opt, exit_code);
  add_kv_commands(app, opt, exit_code);
}

} // namespace labctl
