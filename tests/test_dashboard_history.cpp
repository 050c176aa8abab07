// The dashboard's recent runs in a real headless Chromium: runs that end
// while the page is open are listed with their outcomes, a click shows a
// run's log (capped, or why there is none), the filter asks the API, and a
// durable daemon's restart (the page's reload on `missed`) keeps the list.
#include <filesystem>
#include <memory>

#include "http_support.hpp"
#include "webdriver.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;

namespace {

const std::string token = "dashboard-history-token";

/// The row of a run in the recent runs, as a JavaScript expression.
std::string row(const std::string& id) {
  return "document.querySelector('#history tr[data-run-id=\"" + id + "\"]')";
}

/// The run ids the list shows, top to bottom, space separated.
const std::string listed = "[...document.querySelectorAll('#history "
                           "tr[data-run-id]')].map((r) => r.dataset.runId)"
                           ".join(' ')";

/// Whether the log view shows `id` in `state` (see show_run).
std::string view_is(const std::string& id, const std::string& state) {
  return "document.getElementById('run-view').dataset.run === '" + id
    + "' && document.getElementById('run-view').dataset.state === '" + state
    + "'";
}

/// Queues a run (`more` adds to its spec); its id.
std::string enqueue(httplib::Client& cli, const std::string& script,
  const json& args, json more = json::object()) {
  more["script"] = script;
  more["args"] = args;
  auto res = post(cli, "/api/test/queue", more);
  REQUIRE(res);
  REQUIRE(res->status == 201);
  return json::parse(res->body).at("run_id").get<std::string>();
}

/// Sets a filter input as typing would (WebDriver cannot clear by keys).
void set_input(browser& b, const std::string& id, const std::string& value) {
  b.run("const e = document.getElementById('" + id + "'); e.value = '" + value
    + "'; e.dispatchEvent(new Event('input')); return true;");
}

} // namespace

TEST_CASE(
  "the dashboard lists recent runs and shows their logs", "[dashboard]") {
  if (!fs::exists("/usr/bin/chromedriver") || !fs::exists("/usr/bin/chromium"))
    FAIL("needs chromium and chromium-driver: scripts/bootstrap browser");
  // Without a state_dir the history lives in the runner's memory; with one
  // in labrt.db, and the runs go through labrt-shim.
  const bool durable = GENERATE(false, true);
  INFO((durable ? "with" : "without") << " a state_dir");
  temp_dir dir{"labrt-dash-history"};
  fs::create_directory(dir / "state");
  http_config http;
  http.token = token; // The page must pass it on, the raw log link too.
  auto server
    = std::make_unique<api>(http, durable ? dir / "state" : std::string{});
  auto cli = server->connect();
  cli.set_default_headers({{"Authorization", "Bearer " + token}});

  chromedriver driver{fs::path{dir.path}};
  if (driver.port == 0)
    FAIL("chromedriver did not start: " << driver.output);
  {
    browser b{driver.port, fs::path{dir / "profile"}};
    const auto page = server->server->url() + "/?access_token=" + token;
    b.open(page);
    REQUIRE(shows(b,
      "document.getElementById('conn').dataset.state === 'live'"
      " && document.getElementById('history').textContent"
      ".includes('no runs yet')",
      browser_deadline));
    // Script errors from here on are kept: none may happen.
    b.run("window.errors = [];"
          "addEventListener('error', (e) => errors.push(e.message));"
          "addEventListener('unhandledrejection',"
          " (e) => errors.push(String(e.reason))); return true;");

    // (1) Two runs end while the page is open: both listed live, newest
    // first, each with its outcome.
    auto passed = enqueue(cli, "sleep.sh", {"0"});
    auto failed = enqueue(cli, "exit_with.sh", {"3"});
    REQUIRE(shows(b,
      row(passed) + ".dataset.outcome === 'passed' && " + row(failed)
        + ".dataset.outcome === 'failed' && " + listed + " === '" + failed + " "
        + passed + "'",
      browser_deadline));
    CHECK(b.run("return " + row(failed) + ".textContent;")
            .get<std::string>()
            .find("exit 3")
      != std::string::npos);

    // (2) A click shows a run's log; a run without output says so.
    b.click("#history tr[data-run-id=\"" + passed + "\"]");
    CHECK(shows(b,
      view_is(passed, "shown")
        + " && document.getElementById('rv-log').textContent"
          " === 'ready\\ndone\\n'",
      browser_deadline));
    b.click("#history tr[data-run-id=\"" + failed + "\"]");
    CHECK(shows(b,
      view_is(failed, "empty")
        + " && document.getElementById('rv-note').textContent"
          ".includes('no output')",
      browser_deadline));

    // (3) The filter asks the API: by outcome, then by script.
    b.click("#h-outcome option[value=\"failed\"]");
    CHECK(shows(b, listed + " === '" + failed + "'", browser_deadline));
    b.click("#h-outcome option[value=\"\"]");
    set_input(b, "h-script", "sleep.sh");
    CHECK(shows(b, listed + " === '" + passed + "'", browser_deadline));
    set_input(b, "h-script", "");
    CHECK(shows(
      b, listed + " === '" + failed + " " + passed + "'", browser_deadline));

    // (4) Other outcomes: a signal nobody sent, a timeout.
    auto segv = enqueue(cli, "segv.sh", json::array());
    auto slow = enqueue(cli, "sleep.sh", {"30"}, {{"timeout_ms", 300}});
    REQUIRE(shows(b,
      row(segv) + ".dataset.outcome === 'crashed' && " + row(segv)
        + ".textContent.includes('SIGSEGV') && " + row(slow)
        + ".dataset.outcome === 'timed_out' && " + row(slow)
        + ".textContent.includes('timed out')",
      browser_deadline));

    // (5) A long log: the page shows its last 256 KiB and says so; the raw
    // link serves it all, with the token.
    auto flood = enqueue(cli, "flood.sh", {"400000"});
    REQUIRE(
      shows(b, row(flood) + ".dataset.outcome === 'passed'", browser_deadline));
    b.click("#history tr[data-run-id=\"" + flood + "\"]");
    REQUIRE(shows(b, view_is(flood, "cut"), browser_deadline));
    CHECK(b.run("return document.getElementById('rv-log').textContent.length;")
            .get<size_t>()
      <= 256 * 1024);
    CHECK(b.run("return document.getElementById('rv-note').textContent;")
            .get<std::string>()
            .find("Showing the last 256 KiB")
      != std::string::npos);
    auto raw = b.run("return document.getElementById('rv-raw')"
                     ".getAttribute('href');")
                 .get<std::string>();
    CHECK(raw.find("access_token=" + token) != std::string::npos);
    httplib::Client plain{"127.0.0.1", server->server->port()};
    auto whole = plain.Get(raw.c_str());
    REQUIRE(whole);
    CHECK(whole->status == 200);
    CHECK(whole->body.size() >= 800000);

    // (6) A log that is gone says so rather than showing an empty box.
    auto rec = body_of(cli.Get(("/api/history/" + passed).c_str()));
    REQUIRE(fs::remove(rec.at("log").get<std::string>()));
    b.click("#history tr[data-run-id=\"" + passed + "\"]");
    CHECK(shows(b,
      view_is(passed, "gone")
        + " && document.getElementById('rv-note').textContent"
          ".includes('is gone')",
      browser_deadline));

    std::string older
      = flood + " " + slow + " " + segv + " " + failed + " " + passed;
    if (durable) {
      // (7) A restart on the same state and port: the stream's old event
      // id gets `missed`, the page reloads, the list is the same, and runs
      // of the new daemon come in live.
      auto port = server->server->port();
      cli.stop();
      server.reset();
      REQUIRE(shows(b,
        "document.getElementById('conn').dataset.state"
        " === 'down'",
        browser_deadline));
      http.listen = "127.0.0.1:" + std::to_string(port);
      server = std::make_unique<api>(http, dir / "state"); // cli's port
      CHECK(shows(b,
        "document.getElementById('conn').dataset.state === 'live' && " + listed
          + " === '" + older + "'",
        browser_deadline));
      auto after = enqueue(cli, "exit_with.sh", {"0"});
      older = after + " " + older;
      CHECK(shows(b, listed + " === '" + older + "'", browser_deadline));
    }

    // (8) Pages of 20: the newest live, the older ones through the API.
    std::string newest;
    for (int i = 0; i < 20; ++i)
      newest = enqueue(cli, "exit_with.sh", {"0"}) + (i ? " " : "") + newest;
    REQUIRE(shows(b,
      listed + " === '" + newest + "'"
        + " && !document.getElementById('h-older').disabled",
      browser_deadline));
    b.click("#h-older");
    CHECK(shows(b,
      listed + " === '" + older + "'"
        + " && document.getElementById('h-page').textContent === 'page 2'"
        + " && document.getElementById('h-older').disabled",
      browser_deadline));
    b.click("#h-newer");
    CHECK(shows(b,
      listed + " === '" + newest + "'"
        + " && document.getElementById('h-newer').disabled",
      browser_deadline));
    CHECK(b.run("return errors.join('\\n');") == "");
  }
  CHECK(driver.shutdown()); // No browser process is left behind.
}
