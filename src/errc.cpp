#include "labrt/errc.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace labrt {

caf::error make_error(errc code, std::string message) {
  return {static_cast<uint8_t>(code), error_category(),
          caf::make_message(std::move(message))};
}

caf::error make_conflict(std::string message, uint64_t current_revision) {
  return {static_cast<uint8_t>(errc::conflict), error_category(),
          caf::make_message(std::move(message), current_revision)};
}

errc code_of(const caf::error& err) {
  if (err.category() == error_category())
    return static_cast<errc>(err.code());
  if (err.category() == caf::atom("system")
      && err.code() == static_cast<uint8_t>(caf::sec::request_timeout))
    return errc::timeout;
  return errc{};
}

std::string message_of(const caf::error& err) {
  const auto& ctx = err.context();
  if (ctx.size() >= 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return caf::to_string(err);
}

uint64_t conflict_revision(const caf::error& err) {
  const auto& ctx = err.context();
  if (code_of(err) == errc::conflict && ctx.size() == 2
      && ctx.match_element<uint64_t>(1))
    return ctx.get_as<uint64_t>(1);
  return 0;
}

std::string render(const caf::error& err) {
  if (err.category() == error_category())
    return std::string{to_string(code_of(err))} + ": " + message_of(err);
  return caf::to_string(err);
}

} // namespace labrt
