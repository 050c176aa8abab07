#include "actors/kv_store.hpp"

#include <catch2/catch.hpp>

#include "labrt/errc.hpp"

using namespace labrt;

TEST_CASE("kv state sets and gets", "[kv_store]") {
  kv_store_state st;
  REQUIRE(st.set("a", 1));
  CHECK(st.get("a", nullptr) == 1);
}
