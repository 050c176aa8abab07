// `labctl ps --config FILE [--json]`: one pass over /proc with the config's
// service rules, no daemon needed.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "labrt/config.hpp"
#include "labrt/errc.hpp"
#include "labrt/ps.hpp"

namespace labctl {

namespace {

using namespace labrt;

std::string join_pids(const std::vector<int32_t>& pids) {
  std::ostringstream out;
  for (size_t i = 0; i < pids.size(); ++i)
    out << (i == 0 ? "" : ",") << pids[i];
  return pids.empty() ? "-" : out.str();
}

int run_ps(const std::string& config, bool as_json) {
  auto cfg = load_monitor_config(config);
  if (!cfg) {
    std::cerr << "labctl ps: " << message_of(cfg.error()) << "\n";
    return 2;
  }
  auto recs = scan_services(cfg->services);
  if (!recs) {
    std::cerr << "labctl ps: " << message_of(recs.error()) << "\n";
    return 2;
  }
  if (as_json) {
    std::cout << json(*recs).dump(2) << "\n";
    return 0;
  }
  size_t width = 7;
  size_t pids_width = 4;
  for (auto& rec : *recs) {
    width = std::max(width, rec.name.size());
    pids_width = std::max(pids_width, join_pids(rec.pids).size());
  }
  auto name_w = static_cast<int>(width) + 2;
  auto pids_w = static_cast<int>(pids_width) + 2;
  std::cout << std::left << std::setw(name_w) << "SERVICE" << std::setw(9)
            << "RUNNING" << std::setw(pids_w) << "PIDS"
            << "SINCE\n";
  for (auto& rec : *recs)
    std::cout << std::setw(name_w) << rec.name << std::setw(9)
              << (rec.running ? "yes" : "no") << std::setw(pids_w)
              << join_pids(rec.pids)
              << (rec.running ? to_iso8601(rec.since) : "-") << "\n";
  return 0;
}

} // namespace

void add_ps(CLI::App& app, int& exit_code) {
  auto cmd = app.add_subcommand(
    "ps", "One scan of the watched services: running, pids, since");
  auto config = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("--config", *config, "JSON config with a services section")
    ->required();
  cmd->add_flag("--json", *as_json, "Print the records as JSON");
  cmd->callback(
    [&exit_code, config, as_json] { exit_code = run_ps(*config, *as_json); });
}

} // namespace labctl
