#include "src/validate.hpp"

#include "labrt/errc.hpp"

namespace labrt {

bool valid_utf8(std::string_view s) noexcept {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + n >= s.size())
      return false;
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    static constexpr uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

caf::error check_key(std::string_view key, const limits& bounds) {
  if (key.empty())
    return make_error(errc::invalid_argument, "key must not be empty");
  if (key.size() > bounds.max_key_bytes)
    return make_error(errc::key_too_long,
                      "key of " + std::to_string(key.size())
                        + " bytes exceeds the limit of "
                        + std::to_string(bounds.max_key_bytes));
  if (!valid_utf8(key))
    return make_error(errc::invalid_argument, "key is not valid UTF-8");
  return caf::none;
}

namespace {

// Adds the serialized size of `x` (close to dump()'s) to `total`; returns
// false as soon as `total` passes `limit` or a string is not UTF-8.
bool measure(const json& x, size_t limit, size_t& total, bool& bad_utf8) {
  switch (x.type()) {
    case json::value_t::string: {
      const auto& s = x.get_ref<const std::string&>();
      total += s.size() + 2;
      if (!valid_utf8(s)) {
        bad_utf8 = true;
        return false;
      }
      break;
    }
    case json::value_t::object:
      total += 2;
      // The map itself: items() builds a proxy per member.
      for (auto& [k, v] : x.get_ref<const json::object_t&>()) {
        total += k.size() + 4;
        if (!valid_utf8(k)) {
          bad_utf8 = true;
          return false;
        }
        if (!measure(v, limit, total, bad_utf8))
          return false;
      }
      break;
    case json::value_t::array:
      total += 2;
      for (auto& v : x)
        if (!measure(v, limit, ++total, bad_utf8))
          return false;
      break;
    case json::value_t::binary:
      total += x.get_binary().size() * 2;
      break;
    default:
      total += 8;
  }
  return total <= limit;
}

} // namespace

caf::error check_value(const json& value, const limits& bounds) {
  size_t total = 0;
  bool bad_utf8 = false;
  if (measure(value, bounds.max_value_bytes, total, bad_utf8))
    return caf::none;
  if (bad_utf8)
    return make_error(errc::invalid_argument,
                      "value holds a string that is not valid UTF-8");
  return make_error(errc::value_too_large,
                    "value exceeds the limit of "
                      + std::to_string(bounds.max_value_bytes) + " bytes");
}

const char* type_name(const json& value) noexcept {
  return value.type_name();
}

caf::error check_run_spec(const run_spec& spec) {
  auto problem = run_spec_problem(spec);
  if (problem.empty())
    return {};
  return make_error(errc::invalid_argument, std::move(problem));
}

} // namespace labrt
