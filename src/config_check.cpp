#include "src/config_check.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "labrt/errc.hpp"

namespace labrt {

std::string absolute_from(const std::string& path, const std::string& base) {
  namespace fs = std::filesystem;
  if (path.empty() || base.empty() || fs::path{path}.is_absolute())
    return path;
  return (fs::path{base} / path).lexically_normal().string();
}

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

config_section::config_section(std::string name, json section)
  : name_(std::move(name)), section_(std::move(section)) {
  if (!section_.is_null() && !section_.is_object())
    first_ = name_.empty()
               ? make_error(errc::invalid_argument,
                            std::string{"config: must be a JSON object, not "}
                              + section_.type_name())
               : config_error(name_, std::string{"must be an object, not "}
                                       + section_.type_name());
}

std::string config_section::path(const std::string& key) const {
  return name_.empty() ? key : name_ + "." + key;
}

config_section& config_section::field(const char* key, reader read) {
  known_.emplace_back(key);
  if (first_ || !section_.is_object())
    return *this;
  if (auto i = section_.find(key); i != section_.end())
    first_ = read(*i, path(key));
  return *this;
}

config_section& config_section::elsewhere(const char* key) {
  known_.emplace_back(key);
  return *this;
}

config_section& config_section::text(const char* key, std::string& out) {
  return field(key, [&out](const json& v, const std::string& f) {
    if (!v.is_string())
      return config_error(f, std::string{"must be a string, not "}
                               + v.type_name());
    out = v.get<std::string>();
    return caf::error{};
  });
}

config_section& config_section::flag(const char* key, bool& out) {
  return field(key, [&out](const json& v, const std::string& f) {
    if (!v.is_boolean())
      return config_error(f, "must be true or false");
    out = v.get<bool>();
    return caf::error{};
  });
}

config_section& config_section::integer(const char* key, int64_t& out,
                                        int64_t lo, int64_t hi,
                                        const char* unit) {
  return field(key, [&out, lo, hi, unit](const json& v, const std::string& f) {
    auto n = integer_in(v, f, lo, hi, unit);
    if (!n)
      return std::move(n.error());
    out = *n;
    return caf::error{};
  });
}

caf::error config_section::finish() {
  if (first_ || !section_.is_object())
    return std::move(first_);
  for (auto& [key, value] : section_.items()) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end())
      continue;
    std::string known;
    for (auto& k : known_)
      known += (known.empty() ? "" : ", ") + k;
    return config_error(path(key), "is not a known setting (known: " + known
                                     + ")");
  }
  return caf::none;
}

} // namespace labrt
