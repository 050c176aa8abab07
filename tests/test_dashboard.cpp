// The dashboard (GET /) in a real headless Chromium, driven over the W3C
// WebDriver protocol by chromedriver: live services, a service flip, a run
// started from the page with its output, the 409 of a second start, stop.
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include <httplib.h>

#include "labrt/http.hpp"
#include "src/proc_tree.hpp"
#include "src/process.hpp"
#include "proc_support.hpp"
#include "support.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

/// Generous: Chromium starts slowly on a loaded 2-core machine.
constexpr auto browser_deadline = std::chrono::seconds{60};

/// Kills every process carrying `cookie` (and `leader`'s tree), then reaps
/// `leader`. True if nothing is left.
bool kill_all(pid_t leader, const std::string& cookie) {
  auto until = clock_type::now() + deadline;
  for (;;) {
    auto left = run_members(leader, cookie);
    if (left.empty() || clock_type::now() > until)
      break;
    signal_pids(left, SIGKILL);
    // The leader is our child: reaping it lets the scan skip it.
    ::waitpid(leader, nullptr, WNOHANG);
  }
  ::waitpid(leader, nullptr, 0);
  return find_by_cookie(cookie).empty();
}

/// chromedriver on a free port. Its output is drained by a thread (a full
/// pipe would block it and the browser) and kept for failure messages. The
/// cookie marks chromedriver and every browser process it starts.
struct chromedriver {
  explicit chromedriver(const fs::path& home) {
    // With --port=0 chromedriver takes a free IPv6 port and then binds IPv4
    // to the same number, which another test's socket may hold: it exits with
    // "IPv4 port not available". A new try picks another port.
    for (int attempt = 0; attempt < 5 && start(home) == 0; ++attempt)
      if (output.find("port not available") == std::string::npos)
        break;
  }

  /// Spawns chromedriver and returns its port, 0 if it did not come up.
  uint16_t start(const fs::path& home) {
    shutdown();
    output.clear();
    spawn_spec spec;
    spec.argv = {"/usr/bin/chromedriver", "--port=0"};
    spec.env = {{"HOME", home.string()}, {"TMPDIR", home.string()}};
    spec.inherit_env = {"PATH"};
    spec.cookie = "labrt-dash-" + std::to_string(::getpid());
    cookie = spec.cookie;
    auto c = spawn(spec);
    if (!c)
      FAIL("cannot start chromedriver: " << render(c.error()));
    proc = std::move(*c);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      FAIL("pipe2 failed");
    wake_read.reset(fds[0]);
    wake_write.reset(fds[1]);
    auto port_promise = std::make_shared<std::promise<uint16_t>>();
    auto port_future = port_promise->get_future();
    drain = std::thread{[this, port_promise] { drain_output(*port_promise); }};
    // The drain thread fulfils it at the latest when chromedriver exits.
    port = 0;
    if (port_future.wait_for(deadline) == std::future_status::ready)
      port = port_future.get();
    if (port == 0)
      shutdown(); // Its output is ours to read once the drain ended.
    return port;
  }

  ~chromedriver() {
    shutdown();
  }

  /// Ends chromedriver and every browser process; true if none is left.
  bool shutdown() {
    if (drain.joinable()) {
      clean = kill_all(proc.pid, cookie);
      [[maybe_unused]] auto n = ::write(wake_write.get(), "x", 1);
      drain.join();
    }
    return clean;
  }

  /// Reads stdout and stderr until both close or the destructor wakes it;
  /// fulfils `ready` with the port of "started successfully on port N.".
  void drain_output(std::promise<uint16_t>& ready) {
    bool announced = false;
    pollfd fds[3] = {{proc.out_fd.get(), POLLIN, 0},
      {proc.err_fd.get(), POLLIN, 0}, {wake_read.get(), POLLIN, 0}};
    int open = 2;
    while (open > 0 && ::poll(fds, 3, -1) >= 0 && fds[2].revents == 0) {
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0)
          continue;
        char buf[4096];
        auto n = ::read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          output.append(buf, static_cast<size_t>(n));
        } else if (n == 0 || errno != EAGAIN) {
          fds[i].fd = -1; // poll ignores negative descriptors
          --open;
        }
      }
      const std::string marker = "started successfully on port ";
      auto at = output.find(marker);
      if (!announced && at != std::string::npos
        && output.find('.', at + marker.size()) != std::string::npos) {
        announced = true;
        ready.set_value(
          static_cast<uint16_t>(std::stoul(output.substr(at + marker.size()))));
      }
    }
    if (!announced)
      ready.set_value(0);
  }

  child proc;
  std::string cookie;
  uint16_t port = 0;
  std::string output;
  bool clean = false;
  unique_fd wake_read;
  unique_fd wake_write;
  std::thread drain;
};

/// One WebDriver session with headless Chromium.
struct browser {
  browser(uint16_t driver_port, const fs::path& profile)
    : cli("127.0.0.1", driver_port) {
    cli.set_connection_timeout(browser_deadline);
    cli.set_read_timeout(browser_deadline);
    json args = {"--headless", "--no-sandbox", "--disable-gpu",
      "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
      "--disable-crash-reporter", "--disable-dev-shm-usage",
      "--window-size=1280,900", "--user-data-dir=" + profile.string()};
    json caps = {{"capabilities",
      {{"alwaysMatch",
        {{"browserName", "chrome"},
          {"goog:chromeOptions",
            {{"binary", "/usr/bin/chromium"}, {"args", args}}}}}}}};
    auto created = command("POST", "/session", caps);
    session = created.at("sessionId").get<std::string>();
    // Limits each execute/async wait below on the browser's side too.
    command("POST", "/session/" + session + "/timeouts",
      {{"script", 60000}, {"pageLoad", 60000}});
  }

  ~browser() {
    if (!session.empty())
      cli.Delete(("/session/" + session).c_str());
  }

  /// Sends a WebDriver command and returns its `value`; fails on an error.
  json command(const std::string& method, const std::string& path,
    const json& body = json::object()) {
    auto res = method == "GET" ? cli.Get(path.c_str())
      : method == "POST"
      ? cli.Post(path.c_str(), body.dump(), "application/json")
      : cli.Delete(path.c_str());
    if (!res)
      FAIL("WebDriver " << method << " " << path << ": "
                        << httplib::to_string(res.error()));
    INFO("WebDriver " << method << " " << path << " -> " << res->body);
    REQUIRE(res->status == 200);
    return json::parse(res->body).at("value");
  }

  std::string at(const std::string& rest) const {
    return "/session/" + session + rest;
  }

  void open(const std::string& url) {
    command("POST", at("/url"), {{"url", url}});
  }

  /// The value of a JavaScript function body run in the page.
  json run(const std::string& body) {
    return command(
      "POST", at("/execute/sync"), {{"script", body}, {"args", json::array()}});
  }

  /// Waits in the page (a MutationObserver, no polling) until the JavaScript
  /// expression `cond` holds; false after `timeout`.
  bool wait_for(const std::string& cond, std::chrono::milliseconds timeout) {
    auto script = R"(
      const done = arguments[arguments.length - 1];
      const ok = () => { try { return !!()"
      + cond + R"(); } catch (e) { return false; } };
      if (ok()) return done(true);
      const obs = new MutationObserver(() => {
        if (ok()) { obs.disconnect(); clearTimeout(timer); done(true); }
      });
      obs.observe(document, {subtree: true, childList: true, attributes: true,
                             characterData: true});
      const timer = setTimeout(() => { obs.disconnect(); done(ok()); }, arguments[0]);
    )";
    return command("POST", at("/execute/async"),
      {{"script", script}, {"args", {timeout.count()}}})
      .get<bool>();
  }

  std::string element(const std::string& css) {
    auto found = command(
      "POST", at("/element"), {{"using", "css selector"}, {"value", css}});
    return found.begin().value().get<std::string>();
  }

  void type(const std::string& css, const std::string& text) {
    command(
      "POST", at("/element/" + element(css) + "/value"), {{"text", text}});
  }

  void click(const std::string& css) {
    command("POST", at("/element/" + element(css) + "/click"));
  }

  /// What the page shows, for failure messages.
  std::string text() {
    return run("return document.body.innerText;").get<std::string>();
  }

  httplib::Client cli;
  std::string session;
};

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

/// Whether the page comes to satisfy `cond`; otherwise notes what it shows.
bool shows(
  browser& b, const std::string& cond, std::chrono::milliseconds timeout) {
  if (b.wait_for(cond, timeout))
    return true;
  UNSCOPED_INFO("the page shows:\n" << b.text());
  return false;
}

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
    // Stop: idle again, and the run is in the history.
    b.click("#stop");
    CHECK(shows(b,
      "document.getElementById('run-state').dataset.state === 'idle'"
      " && document.querySelector('#history [data-run-id=\""
        + run_id + "\"]')",
      browser_deadline));
  }
  CHECK(driver.shutdown()); // No browser process is left behind.
}
