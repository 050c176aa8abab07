#include "labrt/sse.hpp"

namespace labrt::sse {

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
    bool has_data = false;
    for (auto pos = start; pos < end;) {
      auto eol = std::min(buffer_.find('\n', pos), end);
      std::string_view line{buffer_.data() + pos, eol - pos};
      if (line.rfind("id: ", 0) == 0)
        ev.id = std::stoull(std::string{line.substr(4)});
      else if (line.rfind("event: ", 0) == 0)
        ev.kind = line.substr(7);
      else if (line.rfind("data: ", 0) == 0) {
        ev.data = line.substr(6);
        has_data = true;
      }
      pos = eol + 1;
    }
    if (has_data)
      result.push_back(std::move(ev));
    start = end + 2;
  }
  buffer_.erase(0, start);
  return result;
}

} // namespace labrt::sse
