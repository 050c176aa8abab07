// The routes of the HTTP/JSON API over labrt's blocking client facades.
#include "labrt/http.hpp"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>

#include <sys/socket.h>

#include <httplib.h>

#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/event_stream.hpp"
#include "labrt/runtime.hpp"
#include "labrt/sse.hpp"
#include "metrics.hpp"

namespace labrt {

extern const char* const dashboard_html; // Generated from dashboard.html.

namespace {

using httplib::Request;
using httplib::Response;
using namespace std::chrono_literals;

// -- responses ---------------------------------------------------------------

/// Output of scripts may hold invalid UTF-8; replace it rather than throw.
std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void reply(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void fail(Response& res, int status, const std::string& code,
          const std::string& message) {
  reply(res, status, {{"error", message}, {"code", code}});
}

int status_of(errc code) {
  switch (code) {
    case errc::invalid_argument:
    case errc::wrong_type:
    case errc::key_too_long:
    case errc::patch_failed:
    case errc::spawn_failed:
      return 400;
    case errc::forbidden:
      return 403;
    case errc::not_found:
      return 404;
    case errc::conflict:
    case errc::already_running:
    case errc::not_running:
      return 409;
    case errc::history_gap:
      return 410;
    case errc::value_too_large:
      return 413;
    case errc::shutting_down:
      return 503;
    case errc::timeout:
      return 504;
    default:
      return 500;
  }
}

void fail(Response& res, const caf::error& err) {
  auto code = code_of(err);
  if (code == errc{})
    return fail(res, 500, "internal", render(err));
  fail(res, status_of(code), to_string(code), message_of(err));
}

/// Replies with the value of `x` (status `ok`) or its error.
template <class T>
void reply(Response& res, const caf::expected<T>& x, int ok = 200) {
  if (x)
    reply(res, ok, json(*x));
  else
    fail(res, x.error());
}

// -- requests ----------------------------------------------------------------

/// The body as JSON; nullopt after replying 400. nlohmann's parser refuses
/// invalid UTF-8 inside strings, so no separate check is needed.
std::optional<json> body_of(const Request& req, Response& res) {
  if (req.body.empty()) {
    fail(res, 400, "invalid_argument", "the request needs a JSON body");
    return std::nullopt;
  }
  try {
    return json::parse(req.body);
  } catch (const json::parse_error& ex) {
    fail(res, 400, "invalid_argument", "malformed JSON: " + what_of(ex));
    return std::nullopt;
  }
}

/// A body that must be a JSON object.
std::optional<json> object_of(const Request& req, Response& res) {
  auto body = body_of(req, res);
  if (body && !body->is_object()) {
    fail(res, 400, "wrong_type",
         std::string{"the body must be a JSON object, not "}
           + body->type_name());
    return std::nullopt;
  }
  return body;
}

/// A run_spec from the keys a remote caller may set. cwd, log and use_shell
/// stay local: over HTTP they would let a caller write or run anything.
std::optional<run_spec> spec_of(const Request& req, Response& res) {
  auto body = object_of(req, res);
  if (!body)
    return std::nullopt;
  static const std::set<std::string> allowed = {
    "script", "args", "bin", "topology", "topology_file", "timeout_ms", "env"};
  for (auto& [key, value] : body->items())
    if (allowed.count(key) == 0) {
      fail(res, 400, "invalid_argument",
           "'" + key + "' is not a field of a run (known: script, args, bin, "
             "topology, topology_file, timeout_ms, env)");
      return std::nullopt;
    }
  if (!body->contains("script")) {
    fail(res, 400, "invalid_argument", "'script' is required");
    return std::nullopt;
  }
  try {
    return body->get<run_spec>();
  } catch (const json::exception& ex) {
    fail(res, 400, "wrong_type", what_of(ex));
    return std::nullopt;
  }
}

/// The revision in an If-Match header: `"12"`, `W/"12"` or `12`.
std::optional<uint64_t> revision_of(const std::string& etag) {
  auto text = etag;
  if (text.rfind("W/", 0) == 0)
    text.erase(0, 2);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
    text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 20
      || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(text);
}

std::string etag_of(uint64_t revision) {
  return "\"" + std::to_string(revision) + "\"";
}

/// Compares without an early exit, so timing does not reveal a prefix.
bool same_secret(const std::string& given, const std::string& secret) {
  unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(
      given[i] ^ secret[secret.empty() ? 0 : i % secret.size()]);
  return diff == 0;
}

/// Parses HOST:PORT (IPv6 hosts in brackets).
caf::expected<std::pair<std::string, int>> split_listen(const std::string& x) {
  auto colon = x.rfind(':');
  if (colon == std::string::npos)
    return make_error(errc::invalid_argument,
                      "http.listen must be HOST:PORT, not '" + x + "'");
  auto host = x.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port_text = x.substr(colon + 1);
  if (host.empty() || port_text.empty() || port_text.size() > 5
      || port_text.find_first_not_of("0123456789") != std::string::npos
      || std::stoi(port_text) > 65535)
    return make_error(errc::invalid_argument,
                      "http.listen must be HOST:PORT, not '" + x + "'");
  return std::make_pair(host, std::stoi(port_text));
}

/// httplib's Server with access to its listening socket.
class listener : public httplib::Server {
public:
  /// httplib 0.11 listens with a backlog of 5: a burst of 20 clients
  /// overflowed it and saw resets. Linux lets listen() raise it in place.
  bool widen_backlog() {
    return ::listen(svr_sock_, SOMAXCONN) == 0;
  }
};

bool ended(run_state s) {
  return s == run_state::finished || s == run_state::failed
         || s == run_state::cancelled;
}

} // namespace

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// -- the server --------------------------------------------------------------

struct http_server::impl {
  impl(runtime& r, http_config c, std::string n)
    : rt(r), cfg(std::move(c)), name(std::move(n)) {
  }

  /// This worker thread's client. Worker threads belong to one server and end
  /// before `run` returns, so no client outlives the runtime.
  client& local() {
    thread_local std::unique_ptr<client> self;
    if (!self)
      self = std::make_unique<client>(rt);
    return *self;
  }

  /// Registers a handler and counts its requests under `label`.
  template <class F>
  void route(const std::string& method, const std::string& pattern,
             const std::string& label, F fn) {
    auto index = metrics.add_route(method + " " + label);
    httplib::Server::Handler handler
      = [this, index, fn](const Request& req, Response& res) {
          auto t0 = std::chrono::steady_clock::now();
          fn(req, res);
          // Parsing a large body leaves megabytes of small blocks free in
          // this pool thread's malloc arena, which glibc keeps: with a thread
          // per connection, every arena would hold its own. Give them back.
          if (req.body.size() >= 64 * 1024)
            ::malloc_trim(0);
          metrics.record(index, res.status,
                         std::chrono::steady_clock::now() - t0);
          if (log != nullptr
              && (res.status >= 500
                  || (res.status >= 400 && req.method == "POST"
                      && req.path.rfind("/api/test/", 0) == 0)))
            // One insertion per line: lines of threads do not interleave.
            *log << (to_iso8601(caf::make_timestamp()) + " " + req.method + " "
                     + req.path + " -> " + std::to_string(res.status) + " "
                     + res.body + "\n")
                 << std::flush;
        };
    if (method == "GET")
      svr.Get(pattern, std::move(handler));
    else if (method == "POST")
      svr.Post(pattern, std::move(handler));
    else if (method == "PUT")
      svr.Put(pattern, std::move(handler));
    else if (method == "PATCH")
      svr.Patch(pattern, std::move(handler));
    else
      svr.Delete(pattern, std::move(handler));
  }

  /// Takes a stream slot; false (after replying 503) when all are taken.
  bool open_stream(Response& res) {
    if (streams.fetch_add(1) >= cfg.max_streams) {
      streams.fetch_sub(1);
      fail(res, 503, "too_many_streams",
           "all " + std::to_string(cfg.max_streams)
             + " event streams are taken (http.max_streams)");
      return false;
    }
    return true;
  }

  void add_routes();
  void add_test_routes();
  void add_kv_routes();
  void add_stream_routes();
  std::string render_metrics();

  runtime& rt;
  http_config cfg;
  std::string name;
  std::string token;
  std::ostream* log = nullptr;
  listener svr;
  http::request_metrics metrics;
  std::atomic<size_t> streams{0};
  uint16_t port = 0;
  std::string host;
};

void http_server::impl::add_routes() {
  route("GET", "/healthz", "/healthz", [this](const Request&, Response& res) {
    reply(res, 200, {{"status", "ok"}, {"name", name}});
  });
  route("GET", "/", "/", [](const Request&, Response& res) {
    res.set_content(dashboard_html, "text/html; charset=utf-8");
  });
  route("GET", "/api/services", "/api/services",
        [this](const Request&, Response& res) {
          auto& c = local().services();
          auto records = c.records();
          if (!records)
            return fail(res, records.error());
          auto flat = c.get_all_status();
          if (!flat)
            return fail(res, flat.error());
          reply(res, 200, {{"services", *records}, {"status", *flat}});
        });
  route("GET", R"(/api/services/(.+))", "/api/services/{name}",
        [this](const Request& req, Response& res) {
          reply(res, local().services().describe(req.matches[1]));
        });
  route("GET", "/api/metrics", "/api/metrics",
        [this](const Request&, Response& res) {
          res.set_content(render_metrics(), "text/plain; version=0.0.4");
        });
  add_test_routes();
  add_kv_routes();
  add_stream_routes();
}

void http_server::impl::add_test_routes() {
  route("GET", "/api/test/status", "/api/test/status",
        [this](const Request&, Response& res) {
          reply(res, local().tests().get_state());
        });
  route("POST", "/api/test/start", "/api/test/start",
        [this](const Request& req, Response& res) {
          if (auto spec = spec_of(req, res))
            reply(res, local().runner().start(std::move(*spec)), 201);
        });
  // `kill` is the old Flask app's name for stop.
  for (auto path : {"/api/test/stop", "/api/test/kill"})
    route("POST", path, path, [this](const Request&, Response& res) {
      reply(res, local().runner().stop("", "request"));
    });
  route("POST", "/api/test/queue", "/api/test/queue",
        [this](const Request& req, Response& res) {
          if (auto spec = spec_of(req, res))
            reply(res, local().runner().enqueue(std::move(*spec)), 201);
        });
  route("GET", "/api/test/queue", "/api/test/queue",
        [this](const Request&, Response& res) {
          reply(res, local().runner().queue());
        });
  route("DELETE", R"(/api/test/queue/([^/]+))", "/api/test/queue/{id}",
        [this](const Request& req, Response& res) {
          reply(res, local().runner().cancel(req.matches[1]));
        });
  route("GET", R"(/api/test/runs/([^/]+))", "/api/test/runs/{id}",
        [this](const Request& req, Response& res) {
          reply(res, local().runner().get(req.matches[1]));
        });
  route("GET", "/api/history", "/api/history",
        [this](const Request& req, Response& res) {
          uint64_t limit = 50;
          if (req.has_param("limit")) {
            auto text = req.get_param_value("limit");
            if (text.empty() || text.size() > 6
                || text.find_first_not_of("0123456789") != std::string::npos)
              return fail(res, 400, "invalid_argument",
                          "limit must be a number from 0 to 999999");
            limit = std::stoull(text);
          }
          reply(res, local().runner().history(limit));
        });
}

void http_server::impl::add_kv_routes() {
  route("GET", "/api/kv", "/api/kv", [this](const Request&, Response& res) {
    reply(res, local().kv().snapshot());
  });
  route("GET", R"(/api/kv/(.+))", "/api/kv/{key}",
        [this](const Request& req, Response& res) {
          auto entry = local().kv().fetch(req.matches[1]);
          if (!entry)
            return fail(res, entry.error());
          if (!entry->exists)
            return fail(res, 404, "not_found",
                        "no key '" + std::string{req.matches[1]} + "'");
          res.set_header("ETag", etag_of(entry->revision));
          reply(res, 200, *entry);
        });
  // A stale If-Match is 412 and carries the current revision.
  auto precondition = [](Response& res, const caf::error& err) {
    if (code_of(err) != errc::conflict)
      return fail(res, err);
    reply(res, 412,
          {{"error", message_of(err)},
           {"code", "precondition_failed"},
           {"revision", conflict_revision(err)}});
  };
  route("PUT", R"(/api/kv/(.+))", "/api/kv/{key}",
        [this, precondition](const Request& req, Response& res) {
          std::string key = req.matches[1];
          auto value = body_of(req, res);
          if (!value)
            return;
          auto& kv = local().kv();
          caf::expected<uint64_t> rev{uint64_t{0}};
          if (req.has_header("If-Match")) {
            auto expected = revision_of(req.get_header_value("If-Match"));
            if (!expected)
              return fail(res, 400, "invalid_argument",
                          "If-Match must be an ETag of this API, e.g. \"12\"");
            rev = kv.set_if(key, std::move(*value), *expected);
          } else if (req.get_header_value("If-None-Match") == "*") {
            rev = kv.set_if(key, std::move(*value), 0);
          } else {
            rev = kv.set(key, std::move(*value));
          }
          if (!rev)
            return precondition(res, rev.error());
          res.set_header("ETag", etag_of(*rev));
          reply(res, 200, {{"key", key}, {"revision", *rev}});
        });
  route("DELETE", R"(/api/kv/(.+))", "/api/kv/{key}",
        [this, precondition](const Request& req, Response& res) {
          std::string key = req.matches[1];
          auto& kv = local().kv();
          caf::expected<bool> existed{false};
          if (req.has_header("If-Match")) {
            auto expected = revision_of(req.get_header_value("If-Match"));
            if (!expected)
              return fail(res, 400, "invalid_argument",
                          "If-Match must be an ETag of this API, e.g. \"12\"");
            existed = kv.erase_if(key, *expected);
          } else {
            existed = kv.erase(key);
          }
          if (!existed)
            return precondition(res, existed.error());
          if (!*existed)
            return fail(res, 404, "not_found", "no key '" + key + "'");
          reply(res, 200, {{"key", key}, {"deleted", true}});
        });
  route("PATCH", R"(/api/kv/(.+))", "/api/kv/{key}",
        [this](const Request& req, Response& res) {
          auto type = req.get_header_value("Content-Type");
          type = type.substr(0, type.find(';'));
          if (type != "application/merge-patch+json"
              && type != "application/json-patch+json")
            return fail(res, 415, "unsupported_media_type",
                        "PATCH needs Content-Type application/merge-patch+json "
                        "or application/json-patch+json");
          auto doc = body_of(req, res);
          if (!doc)
            return;
          auto& kv = local().kv();
          auto entry = type == "application/merge-patch+json"
                         ? kv.merge_patch(req.matches[1], std::move(*doc))
                         : kv.json_patch(req.matches[1], std::move(*doc));
          if (entry)
            res.set_header("ETag", etag_of(entry->revision));
          reply(res, entry);
        });
}

void http_server::impl::add_stream_routes() {
  // Server-Sent Events: `id` is the hub's event id, so a client that
  // reconnects with Last-Event-ID gets what it missed, if still held.
  route("GET", "/api/events", "/api/events",
        [this](const Request& req, Response& res) {
          uint64_t after = 0;
          auto last = req.has_header("Last-Event-ID")
                        ? req.get_header_value("Last-Event-ID")
                        : req.get_param_value("after");
          if (!last.empty()) {
            auto id = revision_of(last);
            if (!id)
              return fail(res, 400, "invalid_argument",
                          "Last-Event-ID must be an event id");
            after = *id;
          }
          auto stream = event_stream::open(rt, after);
          if (!stream)
            return fail(res, stream.error());
          if (!open_stream(res))
            return;
          auto st = std::make_shared<event_stream>(std::move(*stream));
          auto idle = std::make_shared<std::chrono::steady_clock::time_point>(
            std::chrono::steady_clock::now());
          res.set_header("Cache-Control", "no-cache");
          res.set_chunked_content_provider(
            "text/event-stream",
            [st, idle, first = std::make_shared<bool>(true)](
              size_t, httplib::DataSink& sink) {
              std::string out;
              if (*first) {
                // Sends the headers at once and sets the reconnect delay.
                *first = false;
                out = "retry: 1000\n\n";
                return sink.write(out.data(), out.size());
              }
              // Short waits, so that a stopping server is noticed quickly.
              auto batch = st->next(500ms);
              if (!batch) {
                sink.done();
                return true;
              }
              if (batch->missed > 0)
                out += sse::format(
                  {0, "missed",
                   "{\"missed\":" + std::to_string(batch->missed) + "}"});
              for (auto& ev : batch->events)
                out += sse::format(ev);
              auto now = std::chrono::steady_clock::now();
              if (out.empty() && now - *idle > 15s)
                out = ": keep-alive\n\n"; // Finds closed connections too.
              if (out.empty())
                return true;
              *idle = now;
              return sink.write(out.data(), out.size());
            },
            [this](bool) { streams.fetch_sub(1); });
        });
  // A run's log file; with follow=1 a live tail until the run has ended.
  route("GET", "/api/test/logs", "/api/test/logs",
        [this](const Request& req, Response& res) {
          auto& runner = local().runner();
          caf::expected<run_record> rec{run_record{}};
          if (req.has_param("run")) {
            rec = runner.get(req.get_param_value("run"));
          } else {
            rec = runner.status();
            if (!rec && code_of(rec.error()) == errc::not_running) {
              auto last = runner.history(1);
              if (last && last->empty())
                return fail(res, 404, "not_found", "no run yet");
              if (last)
                rec = last->front();
            }
          }
          if (!rec)
            return fail(res, rec.error());
          if (rec->log.empty())
            return fail(res, 404, "not_found",
                        "run " + rec->run_id + " has no log file");
          auto file = std::make_shared<std::ifstream>(rec->log,
                                                      std::ios::binary);
          if (!*file)
            return fail(res, 404, "not_found",
                        "cannot read the log of run " + rec->run_id);
          bool follow = req.get_param_value("follow") == "1"
                        && !ended(rec->state);
          std::shared_ptr<event_stream> wake;
          if (follow) {
            // Wakes the tail when anything happens instead of polling.
            auto stream = event_stream::open(rt, events_from_now);
            if (!stream)
              return fail(res, stream.error());
            if (!open_stream(res))
              return;
            wake = std::make_shared<event_stream>(std::move(*stream));
          }
          res.set_header("X-Run-Id", rec->run_id);
          res.set_header("Cache-Control", "no-cache");
          auto id = rec->run_id;
          res.set_chunked_content_provider(
            "text/plain; charset=utf-8",
            [this, file, wake, id, done = false](
              size_t, httplib::DataSink& sink) mutable {
              char buf[64 * 1024];
              file->read(buf, sizeof buf);
              auto n = static_cast<size_t>(file->gcount());
              if (n > 0)
                return sink.write(buf, n);
              file->clear(); // EOF for now; the run may write more.
              if (!wake || done) {
                sink.done();
                return true;
              }
              auto latest = local().runner().get(id);
              if (!latest || ended(latest->state)) {
                done = true; // One more read drains what was written last.
                return true;
              }
              auto batch = wake->next(500ms);
              if (!batch)
                done = true;
              return true;
            },
            [this, follow](bool) {
              if (follow)
                streams.fetch_sub(1);
            });
        });
}

std::string http_server::impl::render_metrics() {
  auto& c = local();
  std::ostringstream out;
  out << metrics.render();
  auto numbers = [&](const std::string& prefix, const std::string& label,
                     const json& fields) {
    for (auto& [key, value] : fields.items())
      if (value.is_number() || value.is_boolean())
        out << prefix << key << label << ' '
            << (value.is_boolean() ? (value.get<bool>() ? 1 : 0)
                                   : value.get<double>())
            << '\n';
  };
  auto managers = {std::make_pair("kv", c.kv().metrics()),
                   std::make_pair("services", c.services().metrics()),
                   std::make_pair("tests", c.tests().metrics())};
  for (auto& [manager, fields] : managers)
    if (fields)
      numbers("labrt_manager_",
              std::string{"{manager=\""} + manager + "\"}", *fields);
  if (auto runner = c.runner().metrics())
    numbers("labrt_runner_", "", *runner);
  if (auto records = c.services().records()) {
    out << "# TYPE labrt_service_up gauge\n";
    for (auto& rec : *records)
      out << "labrt_service_up{service=\"" << http::label_value(rec.name)
          << "\"} " << (rec.running ? 1 : 0) << '\n'
          << "labrt_service_instances{service=\""
          << http::label_value(rec.name) << "\"} " << rec.pids.size() << '\n';
  }
  out << "labrt_http_streams_open " << streams.load() << '\n';
  return out.str();
}

caf::expected<std::unique_ptr<http_server>>
http_server::make(runtime& rt, http_config cfg, std::string name,
                  std::ostream* log) {
  auto where = split_listen(cfg.listen);
  if (!where)
    return std::move(where.error());
  if (!rt.events())
    return make_error(errc::invalid_argument,
                      "the HTTP API needs a runtime with "
                      "runtime_config::event_hub on");
  // A fixed threshold (glibc otherwise raises it to the largest block freed)
  // keeps request bodies in mappings of their own, unmapped when freed, not
  // in the arena of whichever pool thread read them, where they would stay.
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  auto d = std::make_unique<impl>(rt, std::move(cfg), std::move(name));
  d->host = where->first;
  d->log = log;
  if (auto env = std::getenv("LABRT_TOKEN"); env != nullptr && *env != '\0')
    d->token = env;
  else
    d->token = d->cfg.token;
  if (!is_loopback(d->host) && d->token.empty())
    return make_error(errc::forbidden,
                      "refusing to listen on " + d->cfg.listen
                        + " without a token (set http.token or LABRT_TOKEN)");
  auto& svr = d->svr;
  // Without it, Nagle and delayed ACKs cap a keep-alive client at ~25 req/s.
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(1000);
  svr.set_payload_max_length(d->cfg.max_body_bytes);
  auto threads = d->cfg.threads + d->cfg.max_streams;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_pre_routing_handler([p = d.get()](const Request& req,
                                            Response& res) {
    if (p->token.empty() || req.path == "/healthz")
      return httplib::Server::HandlerResponse::Unhandled;
    // EventSource cannot set headers: the page passes ?access_token= (RFC 6750).
    std::string given;
    auto auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0)
      given = auth.substr(7);
    else
      given = req.get_param_value("access_token");
    if (!given.empty() && same_secret(given, p->token))
      return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer");
    fail(res, 401, "unauthorized", "this route needs Authorization: Bearer");
    return httplib::Server::HandlerResponse::Handled;
  });
  // httplib's own errors (404 route, 413 body, 400 request) get JSON bodies.
  svr.set_error_handler([](const Request& req, Response& res) {
    if (!res.body.empty() || res.content_provider_)
      return;
    switch (res.status) {
      case 404:
        return fail(res, 404, "not_found",
                    "no route " + req.method + " " + req.path);
      case 413:
        return fail(res, 413, "value_too_large",
                    "the request body is over http.max_body_bytes");
      default:
        return fail(res, res.status, "http_" + std::to_string(res.status),
                    res.status == 400 ? "malformed HTTP request (a body needs Content-Length)"
                                      : "HTTP error " + std::to_string(res.status));
    }
  });
  svr.set_exception_handler(
    [](const Request&, Response& res, std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& ex) {
        what = ex.what();
      } catch (...) {
      }
      fail(res, 500, "internal", what);
    });
  d->add_routes();
  d->metrics.seal();
  if (where->second == 0) {
    auto port = svr.bind_to_any_port(d->host);
    if (port < 0)
      return make_error(errc::system_error,
                        "cannot listen on " + d->cfg.listen);
    d->port = static_cast<uint16_t>(port);
  } else {
    if (!svr.bind_to_port(d->host, where->second))
      return make_error(errc::system_error,
                        "cannot listen on " + d->cfg.listen
                          + " (in use, or not an address of this machine)");
    d->port = static_cast<uint16_t>(where->second);
  }
  if (!svr.widen_backlog())
    return make_error(errc::system_error, "listen() failed on "
                                            + d->cfg.listen);
  return std::unique_ptr<http_server>{new http_server(std::move(d))};
}

http_server::http_server(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
}

http_server::~http_server() {
  stop();
}

uint16_t http_server::port() const noexcept {
  return impl_->port;
}

std::string http_server::url() const {
  auto host = impl_->host.find(':') != std::string::npos
                ? "[" + impl_->host + "]"
                : impl_->host;
  return "http://" + host + ":" + std::to_string(impl_->port);
}

void http_server::run() {
  impl_->svr.listen_after_bind();
}

void http_server::stop() {
  impl_->svr.stop();
}

} // namespace labrt
