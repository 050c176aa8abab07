// The event stream (/api/events, Server-Sent Events): live and resumed, and
// the SSE codec on its own.
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <httplib.h>

#include "http_support.hpp"
#include "labrt/sse.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

bool has_kv_key(const std::vector<sse_event>& events, const std::string& key) {
  for (auto& ev : events)
    if (ev.kind == "kv" && ev.data.at("key") == key)
      return true;
  return false;
}

} // namespace

TEST_CASE("events: live, and resumed with Last-Event-ID", "[http]") {
  api a;
  auto cli = a.connect();
  body_of(cli.Put("/api/kv/k1", "1", "application/json"));
  auto first = read_events(cli, {}, [](const std::vector<sse_event>& evs) {
    return has_kv_key(evs, "k1");
  });
  REQUIRE(has_kv_key(first, "k1"));
  auto last_id = first.back().id;
  // While nobody listens.
  body_of(cli.Put("/api/kv/k2", "2", "application/json"));
  body_of(cli.Put("/api/kv/k3", "3", "application/json"));
  httplib::Headers resume{{"Last-Event-ID", std::to_string(last_id)}};
  auto missed = read_events(cli, resume, [](const std::vector<sse_event>& evs) {
    return has_kv_key(evs, "k3");
  });
  REQUIRE(missed.size() >= 2);
  CHECK(missed[0].id == last_id + 1);
  CHECK(missed[0].data.at("key") == "k2");
  CHECK(missed[1].id == last_id + 2);
  CHECK(missed[1].data.at("key") == "k3");
  // A live event reaches a connected reader.
  std::thread writer{[&a] {
    auto w = a.connect();
    body_of(w.Put("/api/kv/k4", "4", "application/json"));
  }};
  httplib::Headers live{{"Last-Event-ID", std::to_string(last_id + 2)}};
  auto fresh = read_events(cli, live, [](const std::vector<sse_event>& evs) {
    return has_kv_key(evs, "k4");
  });
  writer.join();
  CHECK(has_kv_key(fresh, "k4"));
}

TEST_CASE("sse codec: frames split anywhere, comments skipped", "[http]") {
  auto wire = ": keep-alive\n\nretry: 1000\n\n"
              + sse::format({7, "kv", R"({"key":"a"})"})
              + sse::format({0, "missed", R"({"missed":3})"});
  // Every split point yields the same two events.
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    sse::parser parser;
    auto events = parser.feed(std::string_view{wire}.substr(0, cut));
    for (auto& ev : parser.feed(std::string_view{wire}.substr(cut)))
      events.push_back(ev);
    REQUIRE(events.size() == 2);
    CHECK(events[0].id == 7);
    CHECK(events[0].kind == "kv");
    CHECK(events[0].data == R"({"key":"a"})");
    CHECK(events[1].id == 0);
    CHECK(events[1].kind == "missed");
  }
}

TEST_CASE("sse codec: an id that is not a number is no id, not a crash",
          "[http]") {
  sse::parser parser;
  auto events = parser.feed("id: x\ndata: 1\n\nid: 99999999999999999999\n"
                            "data: 2\n\nid: 18446744073709551615\ndata: 3\n\n");
  REQUIRE(events.size() == 3);
  CHECK(events[0].id == 0);
  CHECK(events[1].id == 0);
  CHECK(events[2].id == UINT64_MAX);
}

TEST_CASE("sse codec: an id without data moves the last id, as in a browser",
          "[http]") {
  sse::parser parser;
  CHECK_FALSE(parser.last_id());
  CHECK(parser.feed("retry: 1000\nid: 0\n\n").empty());
  CHECK(parser.last_id() == uint64_t{0});
  CHECK(parser.feed("id: 7\n\nid: 8\nevent: kv\ndata: {}\n").empty());
  CHECK(parser.last_id() == uint64_t{7}); // The second frame is not complete.
  CHECK(parser.feed("\n").size() == 1);
  CHECK(parser.last_id() == uint64_t{8});
}

TEST_CASE("events: a stream from now starts with the id it starts after",
          "[http]") {
  api server;
  auto cli = server.connect();
  REQUIRE(cli.Put("/api/kv/a", "1", "application/json"));
  // Once the hub holds the write's event, "now" is at least its id.
  auto held = read_events(cli, {}, [](const std::vector<sse_event>& evs) {
    return !evs.empty() && evs.back().kind == "kv";
  });
  REQUIRE_FALSE(held.empty());
  std::string head;
  cli.Get("/api/events?after=" + std::to_string(events_from_now),
          [&](const char* data, size_t n) {
            head.append(data, n);
            return head.find("\n\n") == std::string::npos;
          });
  sse::parser parser;
  parser.feed(head);
  REQUIRE(parser.last_id());
  CHECK(*parser.last_id() >= held.back().id);
}

TEST_CASE("events: an id from before a restart is told it missed events",
          "[http]") {
  // Ids come from the clock, so the restarted daemon's are larger, and a
  // client that resumes with an id of the old one reloads instead of
  // silently skipping what it never saw.
  uint64_t old_id = 0;
  {
    api before;
    auto cli = before.connect();
    body_of(cli.Put("/api/kv/k1", "1", "application/json"));
    auto seen = read_events(cli, {}, [](const std::vector<sse_event>& evs) {
      return has_kv_key(evs, "k1");
    });
    REQUIRE(has_kv_key(seen, "k1"));
    old_id = seen.back().id;
  }
  api after;
  auto cli = after.connect();
  body_of(cli.Put("/api/kv/k2", "2", "application/json"));
  httplib::Headers resume{{"Last-Event-ID", std::to_string(old_id)}};
  auto events = read_events(cli, resume, [](const std::vector<sse_event>& evs) {
    return has_kv_key(evs, "k2");
  });
  REQUIRE(events.size() >= 2);
  CHECK(events.front().kind == "missed");
  CHECK(events.front().data.at("missed").get<uint64_t>() >= 1);
  CHECK(events.back().data.at("key") == "k2");
  CHECK(events.back().id > old_id);
  // One of its own ids resumes as before: nothing missed.
  httplib::Headers own{{"Last-Event-ID", std::to_string(events.back().id - 1)}};
  auto again = read_events(cli, own, [](const std::vector<sse_event>& evs) {
    return has_kv_key(evs, "k2");
  });
  REQUIRE_FALSE(again.empty());
  CHECK(again.front().kind == "kv");
}
