// `labctl demo`: a narrated tour of the managers. Real threads race each
// other through the blocking client while this thread prints every change
// event as the managers publish it.
#include <atomic>
#include <functional>
#include <iomanip>
#include <iostream>
#include <thread>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/scoped_actor.hpp>

#include "commands.hpp"
#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/runtime.hpp"

namespace labctl {

namespace {

using namespace labrt;

class demo {
public:
  explicit demo(runtime& rt) : rt_(rt), self_(rt.system()) {
    auto me = caf::actor_cast<subscriber_actor>(self_);
    for (auto manager : {caf::actor_cast<caf::actor>(rt.kv()),
                         caf::actor_cast<caf::actor>(rt.services()),
                         caf::actor_cast<caf::actor>(rt.test_execution())})
      self_->send(caf::actor_cast<feed_actor>(manager), atom::subscribe_v, me,
                  uint64_t{0});
  }

  /// Runs `n` threads of `f(i, client)` while printing events as they come.
  void phase(const std::string& title, int n,
             std::function<void(int, client&)> f) {
    std::cout << "\n== " << title << "\n";
    std::atomic<int> running{n};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
      threads.emplace_back([&, i] {
        client c{rt_};
        f(i, c);
        --running;
      });
    while (running > 0)
      print_events(std::chrono::milliseconds{20});
    for (auto& t : threads)
      t.join();
    print_events(std::chrono::milliseconds{100});
  }

  void say(const std::string& line) {
    std::cout << "   " << line << "\n" << std::flush;
  }

private:
  void print_events(std::chrono::milliseconds quiet_for) {
    bool more = true;
    while (more) {
      self_->receive(
        [&](change_event& ev) {
          if (ev.source == "kv" && quiet_kv_) {
            ++kv_events_;
            return;
          }
          std::cout << "   event #" << std::setw(3) << std::left
                    << ev.revision << std::setw(8) << ev.source
                    << std::setw(32) << ev.key << ev.old_value.dump()
                    << " -> " << ev.new_value.dump() << "\n";
        },
        [&](subscription&) {},
        caf::after(quiet_for) >> [&] { more = false; });
    }
  }

public:
  bool quiet_kv_ = false;
  int kv_events_ = 0;

private:
  runtime& rt_;
  caf::scoped_actor self_;
};

int run_demo() {
  runtime_config cfg;
  cfg.service_defaults = {{"fboss_agent", false}, {"fboss_agent_cmd", nullptr}};
  auto rt = runtime::make(cfg);
  if (!rt) {
    std::cerr << "labctl: " << render(rt.error()) << "\n";
    return 1;
  }
  std::cout << "labrt demo: three managers, each an actor that owns its state.\n"
               "Every line marked 'event' was published by a manager and\n"
               "printed here as it arrived.\n";
  demo d{**rt};

  d.phase("Two monitors report daemons at the same time", 2,
          [](int i, client& c) {
            if (i == 0)
              c.services().set_status("qsfp_service", true);
            else
              c.services().update_status(
                {{"fboss_agent", true}, {"fboss_agent_cmd", "fboss_agent -c /etc/agent.conf"}});
          });

  std::vector<std::string> outcome(3);
  d.phase("Three web requests race to start a test", 3,
          [&](int i, client& c) {
            auto script = "link_test_" + std::to_string(i) + ".py";
            auto r = c.tests().start_test(script, 4000 + i,
                                          {{"topology", "2x100G"}});
            outcome[static_cast<size_t>(i)]
              = r ? script + ": started"
                  : script + ": refused (" + render(r.error()) + ")";
          });
  for (auto& line : outcome)
    d.say(line);

  d.phase("The test is stopped; script and topology stay for the record", 1,
          [](int, client& c) { c.tests().stop_test(); });

  d.quiet_kv_ = true;
  std::atomic<int> conflicts{0};
  d.phase("Eight clients add 250 each to one counter (conditional set, retry)",
          8, [&](int, client& c) {
            for (int done = 0; done < 250;) {
              auto cur = c.kv().fetch("counter");
              if (!cur)
                return;
              auto n = cur->exists ? cur->value.get<int>() : 0;
              if (c.kv().set_if("counter", n + 1, cur->revision))
                ++done;
              else
                ++conflicts;
            }
          });
  client c{**rt};
  d.say("counter = " + c.kv().get("counter")->dump() + " after "
        + std::to_string(conflicts) + " refused stale writes; "
        + std::to_string(d.kv_events_) + " kv events received, none lost");
  d.say("(ThreadSafeDict's get-then-set lost updates exactly here.)");

  std::cout << "\n== Metrics\n";
  d.say("kv:       " + c.kv().metrics()->dump());
  d.say("services: " + c.services().metrics()->dump());
  d.say("tests:    " + c.tests().metrics()->dump());
  return 0;
}

} // namespace

void add_demo(CLI::App& app, int& exit_code) {
  auto cmd = app.add_subcommand("demo", "Show the managers at work");
  cmd->callback([&exit_code] { exit_code = run_demo(); });
}

} // namespace labctl
