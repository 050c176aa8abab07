// The WebDriver client of the dashboard test (see webdriver.hpp).
#include "webdriver.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include <catch2/catch.hpp>

#include "labrt/errc.hpp"
#include "tests/proc_support.hpp"
#include "src/proc_tree.hpp"
#include "support.hpp"

namespace fs = std::filesystem;

namespace labrt::test {

using clock_type = std::chrono::steady_clock;

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

chromedriver::chromedriver(const fs::path& home) {
  // With --port=0 chromedriver takes a free IPv6 port and then binds IPv4
  // to the same number, which another test's socket may hold: it exits with
  // "IPv4 port not available". A new try picks another port.
  for (int attempt = 0; attempt < 5 && start(home) == 0; ++attempt)
    if (output.find("port not available") == std::string::npos)
      break;
}

uint16_t chromedriver::start(const fs::path& home) {
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

chromedriver::~chromedriver() {
  shutdown();
}

bool chromedriver::shutdown() {
  if (drain.joinable()) {
    clean = kill_all(proc.pid, cookie);
    [[maybe_unused]] auto n = ::write(wake_write.get(), "x", 1);
    drain.join();
  }
  return clean;
}

void chromedriver::drain_output(std::promise<uint16_t>& ready) {
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

browser::browser(uint16_t driver_port, const fs::path& profile)
  : cli("127.0.0.1", driver_port) {
  cli.set_connection_timeout(browser_deadline);
  cli.set_read_timeout(browser_deadline + std::chrono::seconds{20});
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
  // Limits each execute/async wait below on the browser's side too, later
  // than the wait's own end: a condition that never holds answers false
  // (and the page's text), not a script timeout.
  auto script_ms = std::chrono::milliseconds{browser_deadline}.count() + 10000;
  command("POST", "/session/" + session + "/timeouts",
    {{"script", script_ms}, {"pageLoad", 60000}});
}

browser::~browser() {
  if (!session.empty())
    cli.Delete(("/session/" + session).c_str());
}

json browser::command(const std::string& method, const std::string& path,
  const json& body) {
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

std::string browser::at(const std::string& rest) const {
  return "/session/" + session + rest;
}

void browser::open(const std::string& url) {
  command("POST", at("/url"), {{"url", url}});
}

json browser::run(const std::string& body) {
  return command(
    "POST", at("/execute/sync"), {{"script", body}, {"args", json::array()}});
}

bool browser::wait_for(const std::string& cond, std::chrono::milliseconds timeout) {
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

std::string browser::element(const std::string& css) {
  auto found = command(
    "POST", at("/element"), {{"using", "css selector"}, {"value", css}});
  return found.begin().value().get<std::string>();
}

void browser::type(const std::string& css, const std::string& text) {
  command(
    "POST", at("/element/" + element(css) + "/value"), {{"text", text}});
}

void browser::click(const std::string& css) {
  command("POST", at("/element/" + element(css) + "/click"));
}

std::string browser::text() {
  return run("return document.body.innerText;").get<std::string>();
}

bool shows(browser& b, const std::string& cond, std::chrono::milliseconds timeout) {
  if (b.wait_for(cond, timeout))
    return true;
  UNSCOPED_INFO("the page shows:\n" << b.text());
  return false;
}

} // namespace labrt::test
