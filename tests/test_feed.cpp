// Change events, history and metrics, shared by the three managers.
#include "src/change_log.hpp"
#include "src/validate.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "support.hpp"

using namespace labrt;
using namespace labrt::test;

TEST_CASE("change log: revisions, bounded history, since", "[feed]") {
  change_log log{"kv", 3};
  CHECK(log.since(0).empty());
  CHECK(log.holds_since(0));
  for (int i = 1; i <= 5; ++i)
    CHECK(log.append("k", i - 1, i) == static_cast<uint64_t>(i));
  CHECK(log.size() == 3);
  CHECK(log.oldest() == 3);
  auto tail = log.since(3);
  REQUIRE(tail.size() == 2);
  CHECK(tail[0].revision == 4);
  CHECK(log.since(0).size() == 3);
  CHECK(log.holds_since(2));
  CHECK_FALSE(log.holds_since(1));
  CHECK(log.since(5).empty());
  CHECK(log.since(99).empty());
  log.set_capacity(1);
  CHECK(log.oldest() == 5);
}

TEST_CASE("change log: the observer sees every append in order", "[feed]") {
  change_log log{"test"};
  std::vector<uint64_t> seen;
  log.set_observer(
    [&](const change_record& rec) { seen.push_back(rec.revision); });
  log.append("a", nullptr, 1);
  log.append("b", nullptr, 2);
  CHECK(seen == std::vector<uint64_t>{1, 2});
}

TEST_CASE("change event converts to and from JSON", "[feed]") {
  change_event ev{"kv", "k", 1, {{"x", 2}}, 7, caf::make_timestamp()};
  json j = ev;
  CHECK(j["old"] == 1);
  CHECK(j["new"]["x"] == 2);
  CHECK(j["revision"] == 7);
  auto back = j.get<change_event>();
  CHECK(back.key == "k");
  CHECK(back.new_value == ev.new_value);
  CHECK(to_iso8601(back.time) == to_iso8601(ev.time));
}

TEST_CASE("validate: UTF-8 and sizes", "[feed]") {
  CHECK(valid_utf8("plain"));
  CHECK(valid_utf8("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(valid_utf8("\xc3"));             // truncated
  CHECK_FALSE(valid_utf8("\xc0\xaf"));         // overlong
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));     // surrogate
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80")); // past U+10FFFF
  limits small{8, 32};
  CHECK_FALSE(check_value(json{{"a", 1}}, small));
  CHECK(code_of(check_value(json::array({std::string(40, 'x')}), small))
        == errc::value_too_large);
}

TEST_CASE("feed: subscribers get changes from every manager", "[feed]") {
  auto rt = start_runtime();
  client c{*rt};
  caf::scoped_actor self{rt->system()};
  subscribe(self, rt->kv());
  subscribe(self, rt->services());
  subscribe(self, rt->test_execution());
  value_of(c.kv().set("k", 1));
  value_of(c.services().set_status("qsfp_service", true));
  value_of(c.tests().start_test("t.py", 42));
  // start_test changes running, script, pid and start_time.
  auto events = collect(self, 6);
  std::map<std::string, int> by_source;
  for (auto& ev : events)
    ++by_source[ev.source];
  CHECK(by_source["kv"] == 1);
  CHECK(by_source["service"] == 1);
  CHECK(by_source["test"] == 4);
}

TEST_CASE("feed: late subscriber gets the replay, then live changes", "[feed]") {
  auto rt = start_runtime();
  client c{*rt};
  for (int i = 0; i < 10; ++i)
    value_of(c.kv().set("k" + std::to_string(i), i));
  caf::scoped_actor self{rt->system()};
  auto sub = subscribe(self, rt->kv(), 4);
  CHECK(sub.first == 5);
  CHECK(sub.current == 10);
  CHECK(sub.complete);
  value_of(c.kv().set("live", true));
  auto events = collect(self, 7);
  CHECK(gapless(events, 5));
  CHECK(events.back().key == "live");
}

TEST_CASE("feed: a subscriber past the history learns it missed changes",
          "[feed]") {
  runtime_config cfg;
  cfg.history_capacity = 4;
  auto rt = start_runtime(cfg);
  client c{*rt};
  for (int i = 0; i < 10; ++i)
    value_of(c.kv().set("k", i));
  caf::scoped_actor self{rt->system()};
  auto sub = subscribe(self, rt->kv(), 0);
  CHECK_FALSE(sub.complete);
  CHECK(sub.first == 7);
  CHECK(gapless(collect(self, 4), 7));
  auto hist = value_of(c.kv().history(0));
  CHECK(hist.size() == 4);
  CHECK(value_of(c.kv().history(8)).size() == 2);
}

TEST_CASE("feed: unsubscribe stops delivery", "[feed]") {
  auto rt = start_runtime();
  client c{*rt};
  caf::scoped_actor self{rt->system()};
  subscribe(self, rt->kv());
  value_of(c.kv().set("a", 1));
  collect(self, 1);
  self->send(rt->kv(), atom::unsubscribe_v,
             caf::actor_cast<subscriber_actor>(self));
  // Ordered after the unsubscribe: once metrics answer, no more sends follow.
  CHECK(value_of(c.kv().metrics())["subscribers"] == 0);
  value_of(c.kv().set("b", 2));
  CHECK(value_of(c.kv().metrics())["revision"] == 2);
  bool got = false;
  self->receive([&](change_event&) { got = true; },
                caf::after(std::chrono::milliseconds{0}) >> [] {});
  CHECK_FALSE(got);
}

TEST_CASE("feed: dead subscribers are dropped", "[feed]") {
  auto rt = start_runtime();
  client c{*rt};
  {
    caf::scoped_actor temp{rt->system()};
    subscribe(temp, rt->kv());
    CHECK(value_of(c.kv().metrics())["subscribers"] == 1);
  } // temp terminates here; the store gets a down message
  // The down message is queued by temp's destructor; each metrics request is
  // a round trip through the same mailbox, so the count drops within a few.
  int subscribers = 1;
  for (int i = 0; i < 1000 && subscribers != 0; ++i)
    subscribers = value_of(c.kv().metrics())["subscribers"].get<int>();
  CHECK(subscribers == 0);
  value_of(c.kv().set("after", 1)); // no send to a dead actor, no error
}

TEST_CASE("feed: metrics count reads, writes, refusals", "[feed]") {
  auto rt = start_runtime();
  client c{*rt};
  value_of(c.services().get_status("x"));
  value_of(c.services().is_service_running("x"));
  value_of(c.services().set_status("qsfp_service", true));
  c.services().set_status("qsfp_service", "bad");
  auto m = value_of(c.services().metrics());
  CHECK(m["source"] == "service");
  CHECK(m["reads"] == 2);
  CHECK(m["writes"] == 1);
  CHECK(m["refused"] == 1);
  CHECK(m["subscribers"] == 0);
  CHECK(m["history_capacity"] == 1024);
}

TEST_CASE("feed: an event-based subscriber actor", "[feed]") {
  auto rt = start_runtime();
  client c{*rt};
  caf::scoped_actor self{rt->system()};
  auto parent = caf::actor_cast<caf::actor>(self);
  // Forwards the revision of every change to the test thread.
  // Passed as a spawn argument: CAF 0.17 dereferences a null argument tuple
  // for function actors spawned without arguments (UBSan flags it).
  auto relay = rt->system().spawn(
    [](caf::event_based_actor*, caf::actor to) {
      return caf::behavior{
        [to](change_event& ev) { caf::anon_send(to, ev.revision); }};
    },
    parent);
  self->request(rt->kv(), deadline, atom::subscribe_v,
                caf::actor_cast<subscriber_actor>(relay), uint64_t{0})
    .receive([](subscription&) {},
             [](caf::error& err) { FAIL(render(err)); });
  value_of(c.kv().set("a", 1));
  uint64_t rev = 0;
  REQUIRE(receive_within(deadline, [&](auto wait) {
    self->receive([&](uint64_t r) { rev = r; }, std::move(wait));
  }));
  CHECK(rev == 1);
  caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
}
