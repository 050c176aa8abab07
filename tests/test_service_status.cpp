// The service-status manager: the old ServiceStatusManager API and records.
#include "actors/service_status.hpp"

#include "support.hpp"

using namespace labrt;
using namespace labrt::test;

TEST_CASE("service state: built-in defaults", "[service_status]") {
  service_status_state st;
  REQUIRE_FALSE(st.init(json::object(), limits{}));
  CHECK(st.get("qsfp_service") == false);
  CHECK(st.get("sai_mono_link_test-sai_impl") == false);
  for (auto suffix : {"_cmd", "_filter", "_message"}) {
    CHECK(st.get(std::string{"qsfp_service"} + suffix).is_null());
    CHECK(st.entries_.count(std::string{"sai_mono_link_test-sai_impl"} + suffix));
  }
  CHECK(st.entries_.size() == 8);
  CHECK_FALSE(st.is_running("qsfp_service"));
  CHECK(st.get("unknown").is_null());
  CHECK_FALSE(st.is_running("unknown"));
}

TEST_CASE("service state: configured defaults are checked", "[service_status]") {
  service_status_state st;
  REQUIRE_FALSE(st.init({{"my_daemon", true}, {"my_daemon_cmd", "run it"}}, {}));
  CHECK(st.is_running("my_daemon"));
  service_status_state bad;
  CHECK(code_of(bad.init({{"my_daemon", "yes"}}, {})) == errc::wrong_type);
  CHECK(bad.entries_.empty());
  CHECK(code_of(bad.init(json::array(), {})) == errc::wrong_type);
}

TEST_CASE("service state: set_status checks types", "[service_status]") {
  service_status_state st;
  REQUIRE_FALSE(st.init(json::object(), {}));
  CHECK(value_of(st.set("qsfp_service", true)) == 1);
  CHECK(st.is_running("qsfp_service"));
  value_of(st.set("sai_mono_link_test-sai_impl_cmd", "test command"));
  CHECK(st.get("sai_mono_link_test-sai_impl_cmd") == "test command");
  value_of(st.set("sai_mono_link_test-sai_impl_cmd", nullptr));
  CHECK(error_of(st.set("qsfp_service", "yes")) == errc::wrong_type);
  CHECK(error_of(st.set("qsfp_service_message", 42)) == errc::wrong_type);
  CHECK(error_of(st.set("", true)) == errc::invalid_argument);
  CHECK(st.is_running("qsfp_service"));
  // Writing the same value again is no change: no event, no new revision.
  CHECK(value_of(st.set("qsfp_service", true)) == 3);
  CHECK(st.log_.revision() == 3);
}

TEST_CASE("service state: update_status is all or none", "[service_status]") {
  service_status_state st;
  REQUIRE_FALSE(st.init(json::object(), {}));
  auto bad = st.update({{"qsfp_service", true}, {"qsfp_service_cmd", false}});
  CHECK(error_of(bad) == errc::wrong_type);
  CHECK_FALSE(st.is_running("qsfp_service"));
  value_of(st.update({{"qsfp_service", true}, {"qsfp_service_cmd", "go"}}));
  CHECK(st.is_running("qsfp_service"));
  CHECK(st.get("qsfp_service_cmd") == "go");
}

TEST_CASE("service state: monitor reports fill records edge-triggered",
          "[service_status]") {
  service_status_state st;
  REQUIRE_FALSE(st.init(json::object(), {}));
  service_record up{"qsfp_service", true, {42, 7}, "qsfp_service --x", {}, {}};
  CHECK(value_of(st.report(up)));
  CHECK(st.is_running("qsfp_service"));
  auto rec = value_of(st.describe("qsfp_service"));
  CHECK(rec.pids == std::vector<int32_t>{7, 42});
  auto since = rec.since;
  CHECK(since.time_since_epoch().count() != 0);
  // The same view again is no change.
  CHECK_FALSE(value_of(st.report(up)));
  // A third instance changes pids but not `since`.
  up.pids = {7, 42, 99};
  CHECK(value_of(st.report(up)));
  CHECK(value_of(st.describe("qsfp_service")).since == since);
  // Down: the flat entry follows.
  CHECK(value_of(st.report({"qsfp_service", false, {}, "", {}, {}})));
  CHECK_FALSE(st.is_running("qsfp_service"));
  auto keys = std::vector<std::string>{};
  for (auto& ev : st.log_.since(0))
    keys.push_back(ev.key);
  CHECK(keys
        == std::vector<std::string>{"record/qsfp_service", "qsfp_service",
                                    "record/qsfp_service",
                                    "record/qsfp_service", "qsfp_service"});
  CHECK(error_of(st.describe("nope")) == errc::not_found);
  CHECK(error_of(st.report({"x_cmd", true, {}, "", {}, {}}))
        == errc::invalid_argument);
  CHECK(st.forget("qsfp_service"));
  CHECK(st.list().empty());
}

TEST_CASE("service record converts to and from JSON", "[service_status]") {
  service_record rec{"svc", true, {1, 2}, "svc -v", caf::make_timestamp(), {}};
  json j = rec;
  CHECK(j["running"] == true);
  CHECK(j["pids"] == json::array({1, 2}));
  CHECK(j["since"].get<std::string>().back() == 'Z');
  CHECK(j["last_change"].is_null());
  auto back = j.get<service_record>();
  CHECK(back.name == "svc");
  CHECK(back.pids == rec.pids);
  // Millisecond precision survives the round trip.
  auto diff = rec.since - back.since;
  CHECK(diff < std::chrono::milliseconds{1});
}

TEST_CASE("service facade: the old ServiceStatusManager API", "[service_status]") {
  runtime_config cfg;
  cfg.service_defaults = {{"fboss_agent", false}};
  auto rt = start_runtime(cfg);
  client c{*rt};
  auto& s = c.services();
  CHECK_FALSE(value_of(s.is_service_running("qsfp_service")));
  value_of(s.set_status("qsfp_service", true));
  CHECK(value_of(s.is_service_running("qsfp_service")));
  CHECK(value_of(s.get_status("fboss_agent")) == false);
  CHECK(value_of(s.get_status("nothing")).is_null());
  value_of(s.update_status({{"fboss_agent", true}, {"fboss_agent_message", "ok"}}));
  auto all = value_of(s.get_all_status());
  CHECK(all["fboss_agent"] == true);
  CHECK(all["fboss_agent_message"] == "ok");
  CHECK(all.size() == 10);
  // get_all_status returns a copy.
  all["qsfp_service"] = false;
  CHECK(value_of(s.is_service_running("qsfp_service")));
  CHECK(error_of(s.set_status("qsfp_service", 1)) == errc::wrong_type);
}

TEST_CASE("runtime refuses bad service defaults", "[service_status]") {
  runtime_config cfg;
  cfg.service_defaults = {{"svc", "up"}};
  auto rt = runtime::make(cfg);
  REQUIRE_FALSE(rt);
  CHECK(code_of(rt.error()) == errc::wrong_type);
  CHECK(message_of(rt.error()).find("svc") != std::string::npos);
}
