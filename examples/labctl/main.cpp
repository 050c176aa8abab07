// labctl: the example CLI driver of labrt.
#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"labctl - drive a labrt runtime"};
  app.require_subcommand(1);
  int exit_code = 0;
  labctl::add_demo(app, exit_code);
  labctl::add_run(app, exit_code);
  labctl::add_ps(app, exit_code);
  labctl::add_serve(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
