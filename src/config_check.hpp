// How every config section is read: each field declared once, with its type
// and range, and one error format. Plain C++, no actors.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "labrt/config.hpp"
#include "labrt/json.hpp"

namespace labrt {

/// `errc::invalid_argument` reading "config: <field> <what>", e.g.
/// "config: http.threads must be ...".
caf::error config_error(const std::string& field, const std::string& what);

/// An integer from `lo` to `hi` (`unit` names what it counts). 1.5, 1e3 and
/// numbers past int64 are refused rather than truncated or wrapped.
caf::expected<int64_t> integer_in(const json& value, const std::string& field,
  int64_t lo, int64_t hi, const char* unit);

/// One JSON object of the config, read strictly: each field is declared with
/// what it accepts, values land in their outputs, and `finish()` reports the
/// first bad value, a key nobody declared (naming the known ones), or a
/// section that is not an object. A null or absent section keeps every
/// default. Usage:
///
///     config_section s{"runner", doc.value("runner", json{})};
///     s.flag("stop_on_shutdown", cfg.stop_on_shutdown)
///      .integer("grace_ms", cfg.grace_ms, 0, max_ms, "milliseconds");
///     if (auto err = s.finish()) return err;
class config_section {
public:
  /// Reads a field's value; returns an error for a bad one.
  using reader = std::function<caf::error(const json& value,
                                          const std::string& field)>;

  /// `name` prefixes every field in errors ("runner" -> "runner.grace_ms");
  /// the top level has an empty name.
  config_section(std::string name, json section);

  config_section& text(const char* key, std::string& out);
  config_section& flag(const char* key, bool& out);
  config_section& integer(const char* key, int64_t& out, int64_t lo,
                          int64_t hi, const char* unit);

  template <class Int, class = std::enable_if_t<std::is_integral_v<Int>
                                                && !std::is_same_v<Int, bool>
                                                && !std::is_same_v<Int, int64_t>>>
  config_section& integer(const char* key, Int& out, int64_t lo, int64_t hi,
                          const char* unit) {
    return field(key, [&out, lo, hi, unit](const json& v, const std::string& f) {
      auto n = integer_in(v, f, lo, hi, unit);
      if (!n)
        return std::move(n.error());
      out = static_cast<Int>(*n);
      return caf::error{};
    });
  }

  /// A field with its own reader.
  config_section& field(const char* key, reader read);

  /// A key another reader handles: known here, read there.
  config_section& elsewhere(const char* key);

  caf::error finish();

private:
  std::string path(const std::string& key) const;

  std::string name_;
  json section_; // A copy: callers pass temporaries such as doc.value(...).
  std::vector<std::string> known_;
  caf::error first_;
};

/// `path` made absolute from `base` (the config file's directory); an empty
/// or absolute path as it is.
std::string absolute_from(const std::string& path, const std::string& base);

/// HOST:PORT as `parse_listen` reads it; errors name `field`.
caf::expected<listen_address> parse_host_port(const std::string& text,
                                              const std::string& field);

/// The `cluster` section (src/config_cluster.cpp): reads the secret file
/// now, so that a missing or readable-by-others secret stops the start.
caf::error parse_cluster(const json& section, const std::string& base_dir,
                         cluster_config& cfg);

} // namespace labrt
