// The runtime's events in plain words, one line each: the daemon's log and
// `labctl watch` both print these, so they read the same.
#pragma once

#include <string>

#include "labrt/json.hpp"

namespace labrt {

/// Turns the event hub's events (kind and data, as `GET /api/events`
/// serves them) into lines such as "service qsfp_service up (pids [42])",
/// "test started: link_test.sh (pid 4891, run r1)" or "test ended:
/// link_test.sh (stopped by SIGTERM (request), 1200 ms, run r1)". A runner's
/// run is told by its `run` events; a test started through the plain
/// start_test API reaches readers as one event per test field, so the
/// describer keeps the record those fields make up, and each reader needs
/// its own.
class event_describer {
public:
  /// `test_state`: the test record when reading starts (`GET
  /// /api/test/status`), so that a run already going is named when it ends.
  explicit event_describer(json test_state = json::object());

  /// The line for one event, or "" if it is not worth one: run output,
  /// the flat service status entries (each service's record is), and test
  /// fields other than a run's start and end.
  std::string line(const std::string& kind, const json& data);

private:
  json test_;
};

} // namespace labrt
