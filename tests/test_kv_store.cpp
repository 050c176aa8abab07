// The kv store: the old ThreadSafeDict cases, revisions, patches, bounds.
#include "actors/kv_store.hpp"

#include "support.hpp"

using namespace labrt;
using namespace labrt::test;

// -- state, without actors ----------------------------------------------------

TEST_CASE("kv state: set, get with default, contains, erase", "[kv_store]") {
  kv_store_state st;
  CHECK(st.get("missing", "fallback") == "fallback");
  CHECK(value_of(st.set("a", 1)) == 1);
  CHECK(st.get("a", nullptr) == 1);
  CHECK(st.contains("a"));
  CHECK(value_of(st.erase("a")));
  CHECK_FALSE(st.contains("a"));
  CHECK_FALSE(value_of(st.erase("a")));
  CHECK(st.log_.revision() == 2);
}

TEST_CASE("kv state: revisions per key and for the store", "[kv_store]") {
  kv_store_state st;
  value_of(st.set("a", 1));
  value_of(st.set("b", 2));
  value_of(st.set("a", 3));
  CHECK(st.fetch("a").revision == 3);
  CHECK(st.fetch("b").revision == 2);
  CHECK(st.snapshot().revision == 3);
  auto missing = st.fetch("zzz");
  CHECK_FALSE(missing.exists);
  CHECK(missing.revision == 0);
}

TEST_CASE("kv state: conditional set and erase", "[kv_store]") {
  kv_store_state st;
  SECTION("0 means only if absent") {
    CHECK(value_of(st.set("k", "first", 0)) == 1);
    auto again = st.set("k", "second", 0);
    CHECK(error_of(again) == errc::conflict);
    CHECK(conflict_revision(again.error()) == 1);
    CHECK(st.get("k", nullptr) == "first");
  }
  SECTION("a stale revision is refused and changes nothing") {
    value_of(st.set("k", 1));
    value_of(st.set("k", 2));
    auto stale = st.set("k", 99, 1);
    REQUIRE(error_of(stale) == errc::conflict);
    CHECK(conflict_revision(stale.error()) == 2);
    CHECK(message_of(stale.error()).find("revision 2") != std::string::npos);
    CHECK(st.get("k", nullptr) == 2);
    CHECK(st.log_.revision() == 2);
    CHECK(value_of(st.set("k", 3, 2)) == 3);
  }
  SECTION("erase if revision matches") {
    value_of(st.set("k", 1));
    CHECK(error_of(st.erase("k", 7)) == errc::conflict);
    CHECK(st.contains("k"));
    CHECK(value_of(st.erase("k", 1)));
    CHECK_FALSE(st.contains("k"));
  }
}

TEST_CASE("kv state: any_revision needs the key to exist", "[kv_store]") {
  kv_store_state st;
  auto absent = st.set("k", 1, any_revision);
  REQUIRE(error_of(absent) == errc::conflict);
  CHECK(conflict_revision(absent.error()) == 0);
  CHECK(message_of(absent.error()) == "key 'k' does not exist");
  CHECK(error_of(st.erase("k", any_revision)) == errc::conflict);
  CHECK(error_of(st.patch("k", {{"a", 1}}, patch_format::merge_patch,
                          any_revision))
        == errc::conflict);
  CHECK_FALSE(st.contains("k"));
  CHECK(st.log_.revision() == 0);
  value_of(st.set("k", 1));
  value_of(st.set("k", 2));
  CHECK(value_of(st.set("k", 3, any_revision)) == 3);
  CHECK(value_of(st.patch("k", json::parse(R"([{"op":"replace","path":"","value":4}])"),
                          patch_format::json_patch, any_revision))
          .value
        == 4);
  CHECK(value_of(st.erase("k", any_revision)));
  CHECK_FALSE(st.contains("k"));
}

TEST_CASE("kv state: a conditional patch checks and applies at once", "[kv_store]") {
  kv_store_state st;
  value_of(st.set("doc", {{"a", 1}}));
  value_of(st.set("doc", {{"a", 2}}));
  SECTION("a stale revision is refused and changes nothing") {
    auto stale = st.patch("doc", {{"a", 99}}, patch_format::merge_patch, 1);
    REQUIRE(error_of(stale) == errc::conflict);
    CHECK(conflict_revision(stale.error()) == 2);
    CHECK(st.get("doc", nullptr) == json{{"a", 2}});
    CHECK(st.log_.revision() == 2);
    CHECK(st.log_.refused == 1);
  }
  SECTION("the current revision applies the patch") {
    auto e = value_of(st.patch("doc", {{"b", 3}}, patch_format::merge_patch, 2));
    CHECK(e.value == json{{"a", 2}, {"b", 3}});
    CHECK(e.revision == 3);
  }
  SECTION("0 patches only an absent key") {
    CHECK(error_of(st.patch("doc", {{"b", 3}}, patch_format::merge_patch, 0))
          == errc::conflict);
    CHECK(value_of(st.patch("new", {{"b", 3}}, patch_format::merge_patch, 0))
            .value
          == json{{"b", 3}});
  }
}

TEST_CASE("kv state: update is all or none", "[kv_store]") {
  kv_store_state st;
  st.bounds_.max_key_bytes = 8;
  value_of(st.update({{"a", 1}, {"b", 2}}));
  CHECK(st.count() == 2);
  auto bad = st.update({{"c", 3}, {"much-too-long-key", 4}});
  CHECK(error_of(bad) == errc::key_too_long);
  CHECK_FALSE(st.contains("c"));
  CHECK(error_of(st.update(json::array({1, 2}))) == errc::wrong_type);
  CHECK(st.log_.revision() == 2);
  CHECK(st.log_.refused == 2);
}

TEST_CASE("kv state: keys, values, items, clear", "[kv_store]") {
  kv_store_state st;
  value_of(st.update({{"b", 2}, {"a", 1}, {"c", json{{"x", true}}}}));
  CHECK(st.keys() == std::vector<std::string>{"a", "b", "c"});
  CHECK(st.values() == json::array({1, 2, json{{"x", true}}}));
  CHECK(st.items() == json{{"a", 1}, {"b", 2}, {"c", {{"x", true}}}});
  auto rev = st.clear();
  CHECK(st.count() == 0);
  CHECK(rev == 6); // three sets, three erasures
  auto gone = st.log_.since(3);
  REQUIRE(gone.size() == 3);
  CHECK(gone[0].new_value.is_null());
}

TEST_CASE("kv state: merge patch (RFC 7386)", "[kv_store]") {
  kv_store_state st;
  value_of(st.set("doc", {{"a", 1}, {"b", {{"c", 2}, {"d", 3}}}}));
  auto e = value_of(st.patch("doc", {{"a", nullptr}, {"b", {{"c", 5}}}, {"n", 1}},
                             patch_format::merge_patch));
  CHECK(e.value == json{{"b", {{"c", 5}, {"d", 3}}}, {"n", 1}});
  CHECK(e.revision == 2);
  // A missing key patches null, which becomes the patch itself.
  CHECK(value_of(st.patch("new", {{"x", 1}}, patch_format::merge_patch)).value
        == json{{"x", 1}});
}

TEST_CASE("kv state: JSON Patch (RFC 6902) with a test op", "[kv_store]") {
  kv_store_state st;
  value_of(st.set("doc", {{"count", 1}, {"tags", json::array({"a"})}}));
  auto ok = st.patch("doc",
                     json::parse(R"([{"op":"test","path":"/count","value":1},
                                     {"op":"replace","path":"/count","value":2},
                                     {"op":"add","path":"/tags/-","value":"b"}])"),
                     patch_format::json_patch);
  REQUIRE(ok);
  CHECK(ok->value == json{{"count", 2}, {"tags", {"a", "b"}}});
  SECTION("a failing test op changes nothing") {
    auto failed = st.patch(
      "doc",
      json::parse(R"([{"op":"replace","path":"/count","value":100},
                      {"op":"test","path":"/count","value":1}])"),
      patch_format::json_patch);
    CHECK(error_of(failed) == errc::patch_failed);
    CHECK(st.get("doc", nullptr)["count"] == 2);
    CHECK(st.log_.revision() == 2);
  }
  SECTION("malformed patches are refused") {
    CHECK(error_of(st.patch("doc", {{"op", "add"}}, patch_format::json_patch))
          == errc::patch_failed);
    CHECK(error_of(st.patch("doc", json::parse(R"([{"op":"explode","path":""}])"),
                            patch_format::json_patch))
          == errc::patch_failed);
    CHECK(error_of(st.patch("doc",
                            json::parse(R"([{"op":"remove","path":"/nope"}])"),
                            patch_format::json_patch))
          == errc::patch_failed);
  }
}

TEST_CASE("kv state: bounds on keys and values", "[kv_store]") {
  kv_store_state st;
  st.bounds_ = limits{16, 64};
  CHECK(error_of(st.set("", 1)) == errc::invalid_argument);
  CHECK(error_of(st.set(std::string(17, 'k'), 1)) == errc::key_too_long);
  CHECK(error_of(st.set("k", std::string(100, 'x'))) == errc::value_too_large);
  CHECK(error_of(st.set("k", json::array({std::string(40, 'x'),
                                          std::string(40, 'y')})))
        == errc::value_too_large);
  CHECK(error_of(st.set("bad\xff", 1)) == errc::invalid_argument);
  CHECK(error_of(st.set("k", "bad \xc3\x28 utf-8")) == errc::invalid_argument);
  // A patch whose result grows past the bound is refused too.
  value_of(st.set("k", {{"a", 1}}));
  CHECK(error_of(st.patch("k", {{"b", std::string(80, 'z')}},
                          patch_format::merge_patch))
        == errc::value_too_large);
  CHECK(st.get("k", nullptr) == json{{"a", 1}});
  CHECK(st.count() == 1);
}

// -- through the actor --------------------------------------------------------

TEST_CASE("kv facade: the old ThreadSafeDict operations", "[kv_store]") {
  auto rt = start_runtime();
  client c{*rt};
  auto& kv = c.kv();
  CHECK(value_of(kv.get("missing")).is_null());
  CHECK(value_of(kv.get("missing", 42)) == 42);
  value_of(kv.set("name", "lab-a"));
  value_of(kv.update({{"x", 1}, {"y", {1, 2, 3}}}));
  CHECK(value_of(kv.get("name")) == "lab-a");
  CHECK(value_of(kv.contains("x")));
  CHECK(value_of(kv.size()) == 3);
  CHECK(value_of(kv.keys()) == std::vector<std::string>{"name", "x", "y"});
  CHECK(value_of(kv.values()) == json::array({"lab-a", 1, {1, 2, 3}}));
  CHECK(value_of(kv.items()) == json{{"name", "lab-a"}, {"x", 1}, {"y", {1, 2, 3}}});
  CHECK(value_of(kv.erase("x")));
  CHECK_FALSE(value_of(kv.contains("x")));
  value_of(kv.clear());
  CHECK(value_of(kv.size()) == 0);
}

TEST_CASE("kv facade: copy() is a copy", "[kv_store]") {
  auto rt = start_runtime();
  client c{*rt};
  value_of(c.kv().set("a", {{"nested", 1}}));
  auto copy = value_of(c.kv().copy());
  copy["a"]["nested"] = 2;
  copy["b"] = 3;
  CHECK(value_of(c.kv().get("a")) == json{{"nested", 1}});
  CHECK_FALSE(value_of(c.kv().contains("b")));
}

TEST_CASE("kv facade: errors carry code and message", "[kv_store]") {
  auto rt = start_runtime();
  client c{*rt};
  value_of(c.kv().set("k", 1));
  auto conflict = c.kv().set_if("k", 2, 5);
  REQUIRE(error_of(conflict) == errc::conflict);
  CHECK(conflict_revision(conflict.error()) == 1);
  CHECK(render(conflict.error()).rfind("conflict: ", 0) == 0);
  CHECK(error_of(c.kv().json_patch("k", {{"not", "an array"}}))
        == errc::patch_failed);
  CHECK(value_of(c.kv().get("k")) == 1);
  auto m = value_of(c.kv().metrics());
  CHECK(m["refused"] == 2);
  CHECK(m["writes"] == 1);
  CHECK(m["revision"] == 1);
}

TEST_CASE("kv facade: conditional patches through the actor", "[kv_store]") {
  auto rt = start_runtime();
  client c{*rt};
  auto& kv = c.kv();
  value_of(kv.set("doc", {{"n", 1}}));
  auto stale = kv.patch_if("doc", {{"n", 5}}, patch_format::merge_patch, 7);
  REQUIRE(error_of(stale) == errc::conflict);
  CHECK(conflict_revision(stale.error()) == 1);
  CHECK(value_of(kv.get("doc")) == json{{"n", 1}});
  auto ok = value_of(kv.patch_if(
    "doc", json::parse(R"([{"op":"replace","path":"/n","value":2}])"),
    patch_format::json_patch, 1));
  CHECK(ok.value == json{{"n", 2}});
  CHECK(ok.revision == 2);
  CHECK(error_of(kv.patch_if("absent", {{"n", 1}}, patch_format::merge_patch,
                             any_revision))
        == errc::conflict);
  CHECK_FALSE(value_of(kv.contains("absent")));
}

TEST_CASE("kv facade: snapshot, then subscribe from its revision", "[kv_store]") {
  auto rt = start_runtime();
  client c{*rt};
  value_of(c.kv().update({{"a", 1}, {"b", 2}}));
  auto snap = value_of(c.kv().snapshot());
  CHECK(snap.revision == 2);
  REQUIRE(snap.entries.size() == 2);
  CHECK(snap.entries[1].key == "b");
  value_of(c.kv().set("c", 3));
  caf::scoped_actor self{rt->system()};
  auto sub = subscribe(self, rt->kv(), snap.revision);
  CHECK(sub.complete);
  CHECK(sub.first == 3);
  auto events = collect(self, 1);
  CHECK(events[0].key == "c");
  CHECK(events[0].new_value == 3);
}
