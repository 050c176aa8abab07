#include "src/proc_record.hpp"

#include <algorithm>

#include "src/validate.hpp"

namespace labrt {

std::string display_cmdline(std::string_view cmdline, size_t max_bytes) {
  std::string_view in{cmdline};
  if (in.size() > max_bytes)
    in = in.substr(0, max_bytes);
  if (valid_utf8(in))
    return std::string{in};
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    auto c = static_cast<unsigned char>(in[i]);
    size_t len = c < 0x80  ? 1
      : (c & 0xE0) == 0xC0 ? 2
      : (c & 0xF0) == 0xE0 ? 3
      : (c & 0xF8) == 0xF0 ? 4
                           : 0;
    if (len != 0 && i + len <= in.size() && valid_utf8(in.substr(i, len))) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

service_record record_of(
  const std::string& name, const std::vector<proc_entry>& procs) {
  service_record rec;
  rec.name = name;
  rec.running = !procs.empty();
  const proc_entry* first = nullptr;
  for (auto& p : procs) {
    rec.pids.push_back(p.id.pid);
    if (first == nullptr || p.id.pid < first->id.pid)
      first = &p;
    if (rec.since.time_since_epoch().count() == 0 || p.started < rec.since)
      rec.since = p.started;
  }
  std::sort(rec.pids.begin(), rec.pids.end());
  if (first != nullptr)
    rec.cmdline = first->cmdline;
  return rec;
}

} // namespace labrt
