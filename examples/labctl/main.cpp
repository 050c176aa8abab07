// labctl: the example CLI driver of labrt.
#include "commands.hpp"
#include "http_client.hpp"

int main(int argc, char** argv) {
  CLI::App app{"labctl - drive a labrt runtime, locally or through its daemon"};
  app.require_subcommand(1);
  int exit_code = 0;
  labctl::add_demo(app, exit_code);
  labctl::add_run(app, exit_code);
  labctl::add_ps(app, exit_code);
  labctl::add_serve(app, exit_code);
  labctl::add_client(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError with code 0; every real usage error exits 2.
    auto code = app.exit(e);
    return code == 0 ? 0 : labctl::exit_usage;
  }
  return exit_code;
}
