#include "labrt/sse.hpp"

#include <charconv>

namespace labrt::sse {

namespace {

/// Our ids are decimal numbers; anything else (a foreign or broken stream)
/// is no id rather than an exception in the reader.
std::optional<uint64_t> id_of(std::string_view text) {
  uint64_t id = 0;
  auto end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, id);
  if (ec != std::errc{} || ptr != end)
    return std::nullopt;
  return id;
}

} // namespace

std::string format(const event& ev) {
  std::string out;
  if (ev.id > 0)
    out += "id: " + std::to_string(ev.id) + '\n';
  out += "event: " + ev.kind + "\ndata: " + ev.data + "\n\n";
  return out;
}

std::vector<event> parser::feed(std::string_view chunk) {
  buffer_.append(chunk);
  std::vector<event> result;
  size_t start = 0;
  for (auto end = buffer_.find("\n\n", start); end != std::string::npos;
       end = buffer_.find("\n\n", start)) {
    event ev{0, "message", {}};
    std::optional<uint64_t> id;
    bool has_data = false;
    for (auto pos = start; pos < end;) {
      auto eol = std::min(buffer_.find('\n', pos), end);
      std::string_view line{buffer_.data() + pos, eol - pos};
      if (line.rfind("id: ", 0) == 0) {
        id = id_of(line.substr(4));
        ev.id = id.value_or(0);
      }
      else if (line.rfind("event: ", 0) == 0)
        ev.kind = line.substr(7);
      else if (line.rfind("data: ", 0) == 0) {
        ev.data = line.substr(6);
        has_data = true;
      }
      pos = eol + 1;
    }
    if (id)
      last_id_ = id;
    if (has_data)
      result.push_back(std::move(ev));
    start = end + 2;
  }
  buffer_.erase(0, start);
  return result;
}

} // namespace labrt::sse
