// What the cluster tests share: daemons' config files, the port an agent
// took, and waiting on an orchestrator's view.
#pragma once

#include <sys/stat.h>

#include <functional>

#include "shim_support.hpp"

namespace labrt::test {

/// `name`.json: a daemon that runs the test scripts, logging to
/// `name`-logs, with `cluster`.
inline std::string cluster_daemon_config(const temp_dir& dir, const std::string& name,
                                  const json& cluster) {
  auto path = dir / (name + ".json");
  std::ofstream{path} << json{
    {"name", name},
    {"runner", {{"roots", {scripts_dir}},
                {"grace_ms", 300},
                {"logs_dir", dir / (name + "-logs")}}},
    {"http", {{"listen", "127.0.0.1:0"}}},
    {"cluster", cluster}}.dump();
  return path;
}

inline std::string write_secret(const temp_dir& dir, const std::string& name,
                                const std::string& text, mode_t mode = 0600) {
  auto path = dir / name;
  std::ofstream{path} << text << "\n";
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

/// An agent publishing on 127.0.0.1:`port` (0: any free port).
inline std::string agent_config(const temp_dir& dir, const std::string& name,
                                uint16_t port, const std::string& secret_file) {
  return cluster_daemon_config(
    dir, name,
    {{"publish", "127.0.0.1:" + std::to_string(port)},
     {"secret_file", secret_file}});
}

inline std::string orchestrator_config(const temp_dir& dir, const json& peers,
                                       const std::string& secret_file) {
  return cluster_daemon_config(dir, "orchestrator",
                        {{"peers", peers}, {"secret_file", secret_file}});
}

/// The port the agent took on `address`, as its start-up line says.
inline uint16_t agent_port_of(const daemon_proc& d,
                              const std::string& address = "127.0.0.1") {
  auto text = "cluster agent on " + address + ":";
  auto at = d.err.find(text);
  REQUIRE(at != std::string::npos);
  return static_cast<uint16_t>(std::stoi(d.err.substr(at + text.size())));
}

inline json peer(const std::string& name, uint16_t port) {
  return {{"name", name}, {"address", "127.0.0.1:" + std::to_string(port)}};
}

/// Follows the orchestrator's events and reads its view after each, until
/// `ok` holds for the view (returned) or the deadline passed (fails).
inline json await_view(daemon_proc& orch,
                       const std::function<bool(const json&)>& ok) {
  json view;
  auto check = [&] {
    view = orch.get("/api/cluster");
    return ok(view);
  };
  auto until = clock_type::now() + deadline;
  while (!check() && clock_type::now() < until) {
    // Each frame (the stream's first, a host up or down, an agent's change)
    // is a moment to read the view again; a quiet second ends the read.
    auto cli = orch.client();
    cli.set_read_timeout(std::chrono::seconds{1});
    cli.Get("/api/events", [&](const char*, size_t) { return !check(); });
  }
  INFO(view.dump(2));
  REQUIRE(ok(view));
  return view;
}

/// The same for one host's entry of the view.
inline json await_host(daemon_proc& orch, const std::string& host,
                       const std::function<bool(const json&)>& ok) {
  auto view = await_view(orch, [&](const json& v) {
    auto hosts = v.find("hosts");
    return hosts != v.end() && hosts->contains(host) && ok(hosts->at(host));
  });
  return view["hosts"][host];
}

inline bool host_up(const json& view, const std::string& name) {
  return view["hosts"][name].value("up", false);
}

} // namespace labrt::test
