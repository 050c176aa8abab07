#include "src/config_check.hpp"

#include <cstdint>

#include "labrt/errc.hpp"

namespace labrt {

caf::error config_error(const std::string& field, const std::string& what) {
  return make_error(errc::invalid_argument, "config: " + field + " " + what);
}

caf::expected<int64_t> integer_in(const json& value, const std::string& field,
                                  int64_t lo, int64_t hi, const char* unit) {
  bool fits = value.is_number_integer()
              && (!value.is_number_unsigned()
                  || value.get<uint64_t>()
                       <= static_cast<uint64_t>(INT64_MAX));
  if (!fits || value.get<int64_t>() < lo || value.get<int64_t>() > hi)
    return config_error(field, "must be an integer from " + std::to_string(lo)
                                 + " to " + std::to_string(hi) + " (" + unit
                                 + "), not " + value.dump());
  return value.get<int64_t>();
}

} // namespace labrt
