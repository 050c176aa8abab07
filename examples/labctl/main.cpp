// labctl: the example CLI driver of labrt.
#include <sys/resource.h>

#include <csignal>
#include <iostream>

#include "commands.hpp"
#include "http_client.hpp"

namespace {

/// The innermost command the user named, e.g. `kv` in `labctl kv nope`.
CLI::App* innermost(CLI::App* app) {
  auto chosen = app->get_subcommands();
  return chosen.empty() ? app : innermost(chosen.front());
}

/// CLI11 reports "a subcommand is required" before the word it could not
/// place; that word is what the user got wrong, so name it. False if every
/// word was placed.
bool name_unknown_word(CLI::App& app) {
  auto rest = app.remaining(true);
  if (rest.empty())
    return false;
  auto at = innermost(&app);
  auto where = at == &app ? std::string{"labctl"} : "labctl " + at->get_name();
  auto& word = rest.front();
  if (word.size() > 1 && word[0] == '-') {
    std::cerr << where << ": unknown option '" << word << "'\n";
  } else {
    std::string known;
    for (auto* sub : at->get_subcommands([](CLI::App*) { return true; }))
      known += (known.empty() ? "" : ", ") + sub->get_name();
    std::cerr << where << ": unknown command '" << word << "'"
              << (known.empty() ? "" : " (commands: " + known + ")") << "\n";
  }
  std::cerr << "Run with --help for more information.\n";
  return true;
}

} // namespace

/// Process-wide settings a runner host needs.
void prepare_process() {
  // A reader that goes away (`labctl run x | head -1`, a dropped ssh) must
  // not kill labctl with SIGPIPE before it has stopped the run's tree: a
  // failed write is an error to handle instead. Spawned scripts get the
  // default disposition back.
  ::signal(SIGPIPE, SIG_IGN);
  // The runner holds a pidfd per process of a run until it has exited, and
  // the monitor keeps /proc files open: use all the descriptors allowed.
  rlimit fds{};
  if (::getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
    fds.rlim_cur = fds.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &fds);
  }
}

int main(int argc, char** argv) {
  prepare_process();
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
    bool misplaced = dynamic_cast<const CLI::RequiredError*>(&e) != nullptr
                     || dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr;
    if (misplaced && name_unknown_word(app))
      return labctl::exit_usage;
    // --help is a ParseError with code 0; every real usage error exits 2.
    auto code = app.exit(e);
    return code == 0 ? 0 : labctl::exit_usage;
  }
  return exit_code;
}
