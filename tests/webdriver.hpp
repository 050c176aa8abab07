// A WebDriver client for the dashboard test (test_dashboard): chromedriver as
// a child process and one session of headless Chromium, driven over the W3C
// WebDriver protocol.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include <httplib.h>

#include "labrt/json.hpp"
#include "src/process.hpp"

namespace labrt::test {

/// Generous: Chromium starts slowly on a loaded 2-core machine.
constexpr auto browser_deadline = std::chrono::seconds{60};

/// Kills every process carrying `cookie` (and `leader`'s tree), then reaps
/// `leader`. True if nothing is left.
bool kill_all(pid_t leader, const std::string& cookie);

/// chromedriver on a free port. Its output is drained by a thread (a full
/// pipe would block it and the browser) and kept for failure messages. The
/// cookie marks chromedriver and every browser process it starts.
struct chromedriver {
  explicit chromedriver(const std::filesystem::path& home);

  /// Spawns chromedriver and returns its port, 0 if it did not come up.
  uint16_t start(const std::filesystem::path& home);

  ~chromedriver();

  /// Ends chromedriver and every browser process; true if none is left.
  bool shutdown();

  /// Reads stdout and stderr until both close or the destructor wakes it;
  /// fulfils `ready` with the port of "started successfully on port N.".
  void drain_output(std::promise<uint16_t>& ready);

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
  browser(uint16_t driver_port, const std::filesystem::path& profile);

  ~browser();

  /// Sends a WebDriver command and returns its `value`; fails on an error.
  json command(const std::string& method, const std::string& path,
    const json& body = json::object());

  std::string at(const std::string& rest) const;

  void open(const std::string& url);

  /// The value of a JavaScript function body run in the page.
  json run(const std::string& body);

  /// Waits in the page (a MutationObserver, no polling) until the JavaScript
  /// expression `cond` holds; false after `timeout`.
  bool wait_for(const std::string& cond, std::chrono::milliseconds timeout);

  std::string element(const std::string& css);

  void type(const std::string& css, const std::string& text);

  void click(const std::string& css);

  /// What the page shows, for failure messages.
  std::string text();

  httplib::Client cli;
  std::string session;
};

/// Whether the page comes to satisfy `cond`; otherwise notes what it shows.
bool shows(browser& b, const std::string& cond, std::chrono::milliseconds timeout);

} // namespace labrt::test
