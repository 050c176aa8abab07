// An orchestrator's dashboard in a real headless Chromium: a card per host,
// kept live by the hosts' events, and the start form sent to the host picked.
#include <filesystem>

#include "cluster_support.hpp"
#include "webdriver.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;

namespace {

/// A field of host `name`'s card, as a JavaScript expression.
std::string card(const std::string& name, const std::string& field) {
  return "document.querySelector('.host[data-host=\"" + name
    + "\"] [data-field=\"" + field + "\"]')?.textContent";
}

std::string card_up(const std::string& name) {
  return "document.querySelector('.host[data-host=\"" + name
    + "\"]')?.dataset.up";
}

/// Picks `host` ("" for the orchestrator itself) as a user does in the form.
std::string pick(const std::string& host) {
  return "const s = document.getElementById('f-host'); s.value = '" + host
    + "'; s.dispatchEvent(new Event('change')); return true;";
}

/// The Test pane shows `host`'s test in `state`, its log holding `line`.
std::string pane_shows(const std::string& host, const std::string& state,
                       const std::string& line) {
  return "document.getElementById('run-heading').textContent === '"
    + (host.empty() ? std::string{"Test"} : "Test on " + host)
    + "' && document.getElementById('run-state').dataset.state === '" + state
    + "' && [...document.querySelectorAll('#log .line')]"
      ".some((n) => n.textContent === '"
    + line + "')";
}

} // namespace

TEST_CASE("an orchestrator's dashboard: a card per host, live, and a start "
          "on the host picked",
          "[dashboard]") {
  if (!fs::exists("/usr/bin/chromedriver") || !fs::exists("/usr/bin/chromium"))
    FAIL("needs chromium and chromium-driver: scripts/bootstrap browser");
  temp_dir dir{"labrt-dash-cluster"};
  auto secret_file = write_secret(dir, "secret", "a-secret-of-the-lab-01234567");
  daemon_proc dut1{agent_config(dir, "dut1", 0, secret_file)};
  daemon_proc dut2{agent_config(dir, "dut2", 0, secret_file)};
  auto port1 = agent_port_of(dut1);
  daemon_proc orch{orchestrator_config(
    dir, {peer("dut1", port1), peer("dut2", agent_port_of(dut2))},
    secret_file)};

  chromedriver driver{fs::path{dir.path}};
  if (driver.port == 0)
    FAIL("chromedriver did not start: " << driver.output);
  browser b{driver.port, fs::path{dir / "profile"}};
  b.open("http://127.0.0.1:" + std::to_string(orch.port) + "/");
  REQUIRE(shows(b,
    "document.getElementById('conn').dataset.state === 'live' && "
      + card_up("dut1") + " === 'true' && " + card_up("dut2") + " === 'true'",
    browser_deadline));
  b.run("window.errors = [];"
        "addEventListener('error', (e) => errors.push(e.message));"
        "addEventListener('unhandledrejection',"
        " (e) => errors.push(String(e.reason))); return true;");
  CHECK(b.run("return " + card("dut2", "test") + ";") == "idle");

  // A click on dut2's card picks it; the form's start runs there.
  b.click(".host[data-host=\"dut2\"]");
  CHECK(b.run("return document.getElementById('f-host').value;") == "dut2");
  b.type("#f-script", "sleep.sh");
  b.type("#f-args", "30");
  b.click("#start");
  REQUIRE(shows(b, card("dut2", "test") + " === 'sleep.sh 30 (running)'",
                browser_deadline));
  auto on_dut2 = dut2.get("/api/test/status");
  CHECK(on_dut2.value("running", false));
  CHECK_FALSE(dut1.get("/api/test/status").value("running", true));
  CHECK(b.run("return " + card("dut1", "test") + ";") == "idle");

  // The Test pane shows the host picked: its run, and that run's log.
  REQUIRE(shows(b, pane_shows("dut2", "running", "ready"), browser_deadline));
  CHECK(b.run("return document.getElementById('log').dataset.run;")
        == on_dut2.at("run_id"));
  CHECK_THAT(b.run("return document.getElementById('run-title').textContent;")
               .get<std::string>(),
             Catch::EndsWith("/sleep.sh 30"));
  // Away and back: the orchestrator's own (idle) pane, then dut2's log read
  // again through the orchestrator.
  b.run(pick(""));
  REQUIRE(shows(b, "document.getElementById('run-heading').textContent === "
                   "'Test' && document.getElementById('log').dataset.run "
                   "=== ''",
                browser_deadline));
  b.run(pick("dut2"));
  REQUIRE(shows(b, pane_shows("dut2", "running", "ready"), browser_deadline));

  // Its card's Stop stops it there.
  b.click(".host[data-host=\"dut2\"] button");
  REQUIRE(shows(b, card("dut2", "test") + " === 'idle'", browser_deadline));
  CHECK_FALSE(dut2.get("/api/test/status").value("running", true));
  CHECK(shows(b, "document.getElementById('run-state').dataset.state === "
                 "'idle'",
              browser_deadline));

  // A run's output arrives live: "done" is printed a second after the pane
  // started its log.
  b.run("document.getElementById('f-args').value = '1'; return true;");
  b.click("#start");
  REQUIRE(shows(b, pane_shows("dut2", "idle", "done"), browser_deadline));
  CHECK(b.run("return document.getElementById('log').dataset.run;")
        == dut2.get("/api/test/status").at("run_id"));

  // A host killed shows down, with why.
  dut1.kill9();
  REQUIRE(shows(b, card_up("dut1") + " === 'false' && "
                     + card("dut1", "error") + " !== ''",
                browser_deadline));
  // Picked, it shows down, with why, and no Stop.
  b.click(".host[data-host=\"dut1\"]");
  REQUIRE(shows(b, "document.getElementById('run-state').dataset.state === "
                   "'down' && document.getElementById('run-title').textContent "
                   "!== '' && document.getElementById('stop').disabled",
                browser_deadline));
  // Back on its port: the pane shows it again, and no error.
  daemon_proc again{agent_config(dir, "dut1", port1, secret_file)};
  REQUIRE(shows(b, "document.getElementById('run-state').dataset.state === "
                   "'idle' && document.getElementById('run-heading')"
                   ".textContent === 'Test on dut1'",
                browser_deadline));
  CHECK(b.run("return document.getElementById('error').hidden;") == true);
  CHECK(b.run("return errors;") == json::array());
}
