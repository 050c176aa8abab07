// The dashboard (GET /) in a real headless Chromium, driven over the W3C
// WebDriver protocol by chromedriver: live services, a service flip, a run
// started from the page with its output, the 409 of a second start, stop.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <set>
#include <thread>

#include <httplib.h>

#include "labrt/http.hpp"
#include "src/process.hpp"
#include "proc_support.hpp"
#include "support.hpp"
#include "webdriver.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

/// A process this test started: killed and reaped on destruction.
struct proc {
  explicit proc(const std::vector<std::string>& argv) {
    auto c = spawn(spawn_spec{argv, {}, {}, {}, false, {}});
    if (!c)
      FAIL("spawn failed: " << render(c.error()));
    ch = std::move(*c);
  }
  ~proc() {
    kill();
  }
  void kill() {
    if (reaped)
      return;
    send_signal(ch.pidfd.get(), SIGKILL);
    ::waitpid(ch.pid, nullptr, 0);
    reaped = true;
  }
  child ch;
  bool reaped = false;
};

/// An http_server run by a thread, stopped and joined on destruction.
struct served {
  explicit served(std::unique_ptr<http_server> s) : server(std::move(s)) {
    thread = std::thread{[this] { server->run(); }};
  }
  ~served() {
    server->stop();
    thread.join();
  }
  std::unique_ptr<http_server> server;
  std::thread thread;
};

/// The selector of a service row in a given state.
std::string service_is(const std::string& name, bool up) {
  return "document.querySelector('[data-service=\"" + name + "\"][data-up=\""
    + (up ? "true" : "false") + "\"]')";
}

} // namespace

TEST_CASE("the dashboard shows live services and runs in a real browser",
  "[dashboard]") {
  if (!fs::exists("/usr/bin/chromedriver") || !fs::exists("/usr/bin/chromium"))
    FAIL("needs chromium and chromium-driver: scripts/bootstrap browser");
  temp_dir dir{"labrt-dash"};
  // A name of our own (comm rule): no other test starts such a process.
  const std::string probe = "dash_probe_svc";
  auto exe = copy_sleep(dir, probe);
  runtime_config cfg;
  cfg.monitor.services = {{probe, match_kind::comm, probe},
    {"qsfp_service", match_kind::exe,
      dir / "absent/qsfp_service"}};
  cfg.monitor.interval_ms = 200;
  cfg.runner.roots = {scripts_dir};
  cfg.runner.logs_dir = dir / "logs";
  cfg.runner.grace_ms = 500;
  cfg.runner.inherit_env = {"PATH"};
  cfg.event_hub = true;
  auto rt = start_runtime(cfg);
  http_config http;
  http.listen = "127.0.0.1:0";
  http.token = "dashboard-s3cret-token"; // The page must pass it on.
  auto made = http_server::make(*rt, http, "dash-lab");
  if (!made)
    FAIL("http_server::make failed: " << render(made.error()));
  served api{std::move(*made)};
  auto& server = api.server;

  chromedriver driver{fs::path{dir.path}};
  if (driver.port == 0)
    FAIL("chromedriver did not start: " << driver.output);
  {
    browser b{driver.port, fs::path{dir / "profile"}};
    b.open(server->url() + "/?access_token=dashboard-s3cret-token");

    // (1) Live data: the lab's name, both services down, the stream open.
    CHECK(shows(b,
      "document.getElementById('conn').dataset.state === 'live'"
      " && document.getElementById('lab-name').textContent"
      " === 'dash-lab'",
      browser_deadline));
    REQUIRE(shows(b,
      service_is(probe, false) + " && " + service_is("qsfp_service", false),
      browser_deadline));
    // One row per service of the API: records and the boolean flat entries
    // (the built-in defaults).
    httplib::Client cli{"127.0.0.1", server->port()};
    auto listed
      = cli.Get("/api/services", {{"Authorization", "Bearer dashboard-s3cret-token"}});
    REQUIRE(listed);
    REQUIRE(listed->status == 200);
    std::set<std::string> names;
    auto services = json::parse(listed->body);
    for (auto& rec : services.at("services"))
      names.insert(rec.at("name").get<std::string>());
    for (auto& [name, value] : services.at("status").items())
      if (value.is_boolean())
        names.insert(name);
    CHECK(b.run("return document.querySelectorAll('[data-service]').length;")
      == names.size());

    // (2) A process named like the service: up within 2 s of its spawn.
    {
      auto t0 = clock_type::now();
      proc p{{exe, "1000"}};
      bool up = shows(b, service_is(probe, true), browser_deadline);
      auto latency = clock_type::now() - t0;
      REQUIRE(up);
      INFO("up after " << std::chrono::duration_cast<std::chrono::milliseconds>(
             latency)
                            .count()
                       << " ms");
      CHECK(latency <= std::chrono::seconds{2});
      auto pids = b.run("return document.querySelector('[data-service=\""
        + probe + "\"] [data-field=pids]').textContent;");
      CHECK(pids == std::to_string(p.ch.pid));
      CHECK(shows(b, service_is("qsfp_service", false), deadline));
      p.kill();
      CHECK(shows(b, service_is(probe, false), browser_deadline));
    }

    // (3) Start from the form: running, its output in #log.
    b.type("#f-script", "sleep.sh");
    b.type("#f-args", "30");
    b.type("#f-topology", "t1");
    b.click("#start");
    REQUIRE(shows(b,
      "document.getElementById('run-state').dataset.state === 'running'"
      " && document.getElementById('log').textContent.includes('ready')",
      browser_deadline));
    auto run_id = b.run("return document.getElementById('log').dataset.run;")
                    .get<std::string>();
    CHECK_FALSE(run_id.empty());
    CHECK(b.run("return document.getElementById('error').hidden;") == true);
    // A second start is refused: the error names the running test.
    b.click("#start");
    CHECK(shows(b,
      "!document.getElementById('error').hidden"
      " && document.getElementById('error').textContent"
      ".includes('409 already_running')"
      " && document.getElementById('error').textContent"
      ".includes('sleep.sh')",
      browser_deadline));
    // A reload joins the log file and the replayed events by line number:
    // each line once.
    b.open(server->url() + "/?access_token=dashboard-s3cret-token");
    CHECK(shows(b,
      "document.getElementById('log').dataset.run === '" + run_id + "'"
      " && [...document.querySelectorAll('#log .line')]"
      ".filter((n) => n.textContent === 'ready').length === 1"
      " && document.getElementById('conn').dataset.state === 'live'",
      browser_deadline));
    CHECK(b.run("return [...document.querySelectorAll('#log .line')]"
                ".filter((n) => n.textContent === 'ready').length;") == 1);
    // Another client queues a run and cancels it: the page follows live.
    httplib::Headers auth{{"Authorization", "Bearer dashboard-s3cret-token"}};
    auto queued = cli.Post("/api/test/queue", auth,
      R"({"script": "sleep.sh", "args": ["1"]})", "application/json");
    REQUIRE(queued);
    REQUIRE(queued->status == 201);
    auto queued_id = json::parse(queued->body).at("run_id").get<std::string>();
    auto in_queue = "document.querySelector('#queue [data-run-id=\""
      + queued_id + "\"]')";
    CHECK(shows(b, in_queue + " !== null", browser_deadline));
    auto removed = cli.Delete(("/api/test/queue/" + queued_id).c_str(), auth);
    REQUIRE(removed);
    CHECK(removed->status == 200);
    CHECK(shows(b, in_queue + " === null", browser_deadline));
    // Stop: idle again, and the run is in the history, stopped by request.
    b.click("#stop");
    CHECK(shows(b,
      "document.getElementById('run-state').dataset.state === 'idle'"
      " && document.querySelector('#history [data-run-id=\""
        + run_id + "\"][data-outcome=stopped]')"
        ".textContent.includes('by request')",
      browser_deadline));
  }
  CHECK(driver.shutdown()); // No browser process is left behind.
}
