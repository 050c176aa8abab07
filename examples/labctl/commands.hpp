// labctl's subcommands; each file registers one on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace labctl {

/// `labctl demo`: the managers at work, with concurrent clients and events.
/// Each add_* registers a subcommand whose callback stores its exit code.
void add_demo(CLI::App& app, int& exit_code);

} // namespace labctl
