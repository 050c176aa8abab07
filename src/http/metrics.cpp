#include "src/http/metrics.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include <malloc.h>

#include "labrt/client.hpp"
#include "labrt/json.hpp"

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

// -- the runtime's families ---------------------------------------------------

namespace labrt::http {

namespace {

/// One family of a JSON metrics object: its field, type and help text.
struct family {
  const char* field;
  const char* type;
  const char* help;
};

constexpr family manager_families[] = {
  {"reads", "counter", "Reads a manager served."},
  {"writes", "counter", "Writes a manager applied."},
  {"refused", "counter",
   "Operations a manager refused (bad input, stale revision), changing "
   "nothing."},
  {"revision", "gauge", "A manager's current revision."},
  {"subscribers", "gauge", "Subscribers of a manager's change feed."},
  {"history_size", "gauge", "Changes held in a manager's history ring."},
  {"history_capacity", "gauge", "Changes a manager's history ring can hold."},
};

constexpr family runner_families[] = {
  {"running", "gauge", "1 while a run is in progress."},
  {"queued", "gauge", "Runs waiting in the queue."},
  {"started", "counter", "Runs started."},
  {"failed", "counter", "Runs whose script could not be started."},
  {"refused", "counter", "Starts refused, e.g. while a run is in progress."},
  {"stopped", "counter", "Runs stopped on request or at shutdown."},
  {"timed_out", "counter", "Runs stopped by their timeout."},
  {"batches", "counter", "Batches of output lines sent to subscribers."},
  {"lines", "counter", "Output lines of runs."},
  {"lines_dropped", "counter", "Output lines lagging subscribers lost."},
  {"subscribers", "gauge", "Subscribers of run output."},
  {"history", "gauge", "Finished runs held in the history."},
};

constexpr family event_families[] = {
  {"last_id", "gauge", "The id of the event hub's newest event."},
  {"held", "gauge", "Events the hub holds for readers that resume."},
  {"held_bytes", "gauge", "Bytes of the events the hub holds."},
  {"capacity", "gauge", "Events the hub can hold."},
  {"dropped", "counter", "Events the hub let go to stay within its bounds."},
  {"missed_by_sinks", "counter",
    "Events readers missed because they fell behind the hub's history."},
  {"sinks", "gauge", "Readers of the event hub (streams, logs)."},
};

/// A sample: its labels ("" or `{k="v"}`) and value.
using samples = std::vector<std::pair<std::string, std::string>>;

/// A JSON number or boolean as a sample value; nullopt for anything else.
std::optional<std::string> sample_of(const json& value) {
  if (value.is_boolean())
    return value.get<bool>() ? "1" : "0";
  if (value.is_number())
    return value.dump(); // Exact for integers, unlike a double's 6 digits.
  return std::nullopt;
}

void write_family(std::ostream& out, std::string name, const char* type,
                  const std::string& help, const samples& xs) {
  if (xs.empty())
    return;
  // Prometheus names counters with _total (promtool insists).
  if (std::string{type} == "counter")
    name += "_total";
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' '
      << type << '\n';
  for (auto& [labels, value] : xs)
    out << name << labels << ' ' << value << '\n';
}

/// Renders the numeric fields of metrics objects, one family per field with
/// a sample per source; fields that no table knows yet go out untyped.
template <size_t N>
void write_fields(std::ostream& out, const std::string& prefix,
                  const family (&known)[N],
                  const std::vector<std::pair<std::string, json>>& sources) {
  std::set<std::string> fields;
  for (auto& [labels, fields_of] : sources)
    for (auto& [key, value] : fields_of.items())
      if (sample_of(value))
        fields.insert(key);
  for (auto& field : fields) {
    samples xs;
    for (auto& [labels, fields_of] : sources)
      if (auto i = fields_of.find(field); i != fields_of.end())
        if (auto x = sample_of(*i))
          xs.emplace_back(labels, *x);
    auto* f = std::find_if(std::begin(known), std::end(known),
                           [&](const family& k) { return field == k.field; });
    if (f != std::end(known))
      write_family(out, prefix + field, f->type, f->help, xs);
    else
      write_family(out, prefix + field, "untyped",
                   "The '" + field + "' field of the metrics JSON.", xs);
  }
}

} // namespace

std::string render_runtime_metrics(client& c, size_t streams_open) {
  std::ostringstream out;
  std::vector<std::pair<std::string, json>> managers;
  for (auto& [manager, fields] :
       {std::make_pair("kv", c.kv().metrics()),
        std::make_pair("services", c.services().metrics()),
        std::make_pair("tests", c.tests().metrics())})
    if (fields)
      managers.emplace_back(std::string{"{manager=\""} + manager + "\"}",
                            *fields);
  write_fields(out, "labrt_manager_", manager_families, managers);
  if (auto runner = c.runner().metrics())
    write_fields(out, "labrt_runner_", runner_families, {{"", *runner}});
  if (auto records = c.services().records()) {
    samples up;
    samples instances;
    for (auto& rec : *records) {
      auto labels = "{service=\"" + label_value(rec.name) + "\"}";
      up.emplace_back(labels, rec.running ? "1" : "0");
      instances.emplace_back(labels, std::to_string(rec.pids.size()));
    }
    write_family(out, "labrt_service_up", "gauge",
                 "1 while a watched service has a running process.", up);
    write_family(out, "labrt_service_instances", "gauge",
                 "Running processes of a watched service.", instances);
  }
  if (auto st = c.storage(); st && st->value("state", "") != "memory") {
    auto degraded = st->value("state", "") == "degraded";
    auto labels = degraded ? "{error=\"" + label_value(st->value("error", ""))
                               + "\"}"
                           : std::string{};
    write_family(out, "labrt_storage_degraded", "gauge",
                 "1 while the last commit to labrt.db failed (error: why).",
                 {{labels, degraded ? "1" : "0"}});
    write_family(out, "labrt_storage_commits", "counter",
                 "Commits to labrt.db.",
                 {{"", std::to_string(st->value("commits", uint64_t{0}))}});
    write_family(out, "labrt_storage_failures", "counter",
                 "Commits to labrt.db that failed.",
                 {{"", std::to_string(st->value("failures", uint64_t{0}))}});
  }
  if (auto events = c.event_metrics())
    write_fields(out, "labrt_events_", event_families, {{"", *events}});
  write_family(out, "labrt_http_streams_open", "gauge",
               "Open event streams and followed logs.",
               {{"", std::to_string(streams_open)}});
  // What RSS alone cannot tell apart: memory in use (a leak grows it) and
  // memory malloc holds free in its arenas (fragmentation grows that). "In
  // use" is malloc's count: it includes the chunks each thread caches for
  // reuse (tcache), which fill as the HTTP pool's threads take turns.
  auto heap = ::mallinfo2();
  write_family(out, "labrt_process_heap_in_use_bytes", "gauge",
               "Bytes malloc counts as in use, its per-thread caches included.",
               {{"", std::to_string(heap.uordblks + heap.hblkhd)}});
  write_family(out, "labrt_process_heap_free_bytes", "gauge",
               "Bytes malloc holds free in its arenas.",
               {{"", std::to_string(heap.fordblks)}});
  return out.str();
}

} // namespace labrt::http
