// nlohmann::json as a CAF message element.
//
// CAF 0.17 sees json as a range and cannot serialize it; this overload carries
// a json as its compact text and parses it back on load. Locally, messages are
// never serialized, so the cost only shows over caf::io.
#pragma once

#include <string>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/none.hpp>
#include <nlohmann/json.hpp>

namespace labrt {

using json = nlohmann::json;

/// The message of a json exception without nlohmann's "[json.exception.x] "
/// tag, e.g. "parse error at line 1, column 3: ...".
inline std::string what_of(const json::exception& ex) {
  std::string what = ex.what();
  if (auto pos = what.find("] "); pos != std::string::npos)
    what.erase(0, pos + 2);
  return what;
}

} // namespace labrt

namespace nlohmann {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, json& x) {
  std::string text;
  if (Inspector::reads_state)
    text = x.dump();
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x = json::parse(text, nullptr, false);
    return caf::none;
  });
  return f(caf::meta::type_name("json"), text, load);
}

} // namespace nlohmann
