// `labctl serve --config FILE [--listen HOST:PORT]`: the daemon.
#include <malloc.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "labrt/errc.hpp"
#include "labrt/http.hpp"

namespace labctl {

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
    exit_code = labrt::serve(std::move(*cfg), std::cerr);
  });
}

} // namespace labctl
