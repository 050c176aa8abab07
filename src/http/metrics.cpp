#include "metrics.hpp"

#include <memory>
#include <sstream>

namespace labrt::http {

size_t request_metrics::add_route(std::string label) {
  labels_.push_back(std::move(label));
  return labels_.size() - 1;
}

void request_metrics::seal() {
  routes_ = std::make_unique<route[]>(labels_.size());
}

void request_metrics::record(size_t index, int status,
                             std::chrono::nanoseconds latency) {
  auto& r = routes_[index];
  auto cls = status < 300 ? 0u : status < 400 ? 1u : status < 500 ? 2u : 3u;
  r.by_class[cls].fetch_add(1, std::memory_order_relaxed);
  auto seconds = std::chrono::duration<double>(latency).count();
  size_t bucket = 0;
  while (bucket < bounds.size() && seconds > bounds[bucket])
    ++bucket;
  r.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  r.sum_ns.fetch_add(static_cast<uint64_t>(latency.count()),
                     std::memory_order_relaxed);
}

std::string label_value(const std::string& text) {
  std::string result;
  for (auto c : text) {
    if (c == '\\' || c == '"')
      result += '\\';
    if (c == '\n') {
      result += "\\n";
      continue;
    }
    result += c;
  }
  return result;
}

std::string request_metrics::render() const {
  static constexpr const char* class_names[] = {"2xx", "3xx", "4xx", "5xx"};
  std::ostringstream out;
  out << "# HELP labrt_http_requests_total HTTP requests by route and status "
         "class.\n# TYPE labrt_http_requests_total counter\n";
  for (size_t i = 0; i < labels_.size(); ++i)
    for (size_t c = 0; c < classes; ++c)
      if (auto n = routes_[i].by_class[c].load(std::memory_order_relaxed))
        out << "labrt_http_requests_total{route=\"" << label_value(labels_[i])
            << "\",code=\"" << class_names[c] << "\"} " << n << '\n';
  out << "# HELP labrt_http_request_duration_seconds Time to handle a "
         "request (streams: until the handler returned).\n"
         "# TYPE labrt_http_request_duration_seconds histogram\n";
  for (size_t i = 0; i < labels_.size(); ++i) {
    auto& r = routes_[i];
    uint64_t total = 0;
    for (auto& b : r.buckets)
      total += b.load(std::memory_order_relaxed);
    if (total == 0)
      continue;
    auto label = label_value(labels_[i]);
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= bounds.size(); ++b) {
      cumulative += r.buckets[b].load(std::memory_order_relaxed);
      out << "labrt_http_request_duration_seconds_bucket{route=\"" << label
          << "\",le=\"";
      if (b < bounds.size())
        out << bounds[b];
      else
        out << "+Inf";
      out << "\"} " << cumulative << '\n';
    }
    out << "labrt_http_request_duration_seconds_sum{route=\"" << label << "\"} "
        << static_cast<double>(r.sum_ns.load(std::memory_order_relaxed)) / 1e9
        << '\n'
        << "labrt_http_request_duration_seconds_count{route=\"" << label
        << "\"} " << cumulative << '\n';
  }
  return out.str();
}

} // namespace labrt::http
