// The HTTP server around the routes: its setup, authentication,
// request bodies, and replies for what no route takes.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <set>
#include <stdexcept>

#include <malloc.h>
#include <unistd.h>

#include "labrt/errc.hpp"
#include "labrt/runtime.hpp"
#include "src/http/server_impl.hpp"
#include "src/http/worker_pool.hpp"
#include "src/sys_util.hpp"

namespace labrt {

using http::fail;
using http::Request;
using http::Response;
using http::worker_pool;

namespace {

/// Any path: `.` would not match a decoded newline.
const char* const any_path = R"([\s\S]*)";

/// Worker threads that stay while idle: enough for a dashboard, a CLI and a
/// few scripts, so that only a crowd makes threads come and go.
constexpr size_t core_threads = 8;

} // namespace

// -- the server --------------------------------------------------------------

client& http_server::impl::local() {
  thread_local std::unique_ptr<client> self;
  if (!self)
    self = std::make_unique<client>(rt);
  return *self;
}

void http_server::impl::with_body(const std::string& method,
                                  const std::string& pattern, body_handler fn) {
  // httplib calls these before it reads a body, which it would read until
  // the peer closes when the request has no Content-Length.
  httplib::Server::HandlerWithContentReader handler
    = [this, fn](const Request& req, Response& res,
                 const httplib::ContentReader& reader) {
        std::string body;
        if (http::read_body(req, res, reader, cfg.max_body_bytes, body))
          fn(req, body, res);
        // Parsing a large body leaves megabytes of small blocks free in this
        // pool thread's malloc arena, which glibc keeps: with a thread per
        // connection, every arena would hold its own. Give them back.
        if (body.size() >= 64 * 1024) {
          body = {};
          ::malloc_trim(0);
        }
      };
  if (method == "POST")
    svr.Post(pattern, std::move(handler));
  else if (method == "PUT")
    svr.Put(pattern, std::move(handler));
  else if (method == "PATCH")
    svr.Patch(pattern, std::move(handler));
  else
    svr.Delete(pattern, std::move(handler));
}

void http_server::impl::log_notable(const Request& req, const Response& res) {
  if (res.status >= 500
      || (res.status >= 400 && req.method == "POST"
          && req.path.rfind("/api/test/", 0) == 0))
    // One insertion per line: lines of threads do not interleave.
    *log << (to_iso8601(caf::make_timestamp()) + " " + req.method + " "
             + req.path + " -> " + std::to_string(res.status) + " " + res.body
             + "\n")
         << std::flush;
}

void http_server::impl::allow(const std::string& method,
                              const std::string& pattern) {
  // Anchored, as httplib matches whole paths; the patterns are EREs too.
  auto re = std::make_unique<regex_t>();
  if (::regcomp(re.get(), ("^" + pattern + "$").c_str(),
                REG_EXTENDED | REG_NOSUB)
      != 0)
    throw std::logic_error("route pattern '" + pattern + "' is no ERE");
  auto free_re = [](const regex_t* p) {
    ::regfree(const_cast<regex_t*>(p));
    delete p;
  };
  allowed.emplace_back(std::shared_ptr<const regex_t>{re.release(), free_re},
                       method);
}

void http_server::impl::unrouted(const Request& req, Response& res) {
  std::set<std::string> methods;
  // httplib's patterns match no line break; C strings end at a NUL.
  if (req.path.find_first_of(std::string{"\0\n\r", 3}) == std::string::npos)
    for (auto& [pattern, method] : allowed)
      if (::regexec(pattern.get(), req.path.c_str(), 0, nullptr, 0) == 0)
        methods.insert(method);
  if (methods.empty())
    return fail(res, 404, "not_found",
                "no route " + req.method + " " + req.path);
  if (methods.count("GET") > 0)
    methods.insert("HEAD");
  methods.insert("OPTIONS");
  std::string allow;
  for (auto& m : methods)
    allow += (allow.empty() ? "" : ", ") + m;
  res.set_header("Allow", allow);
  if (req.method == "OPTIONS") {
    res.status = 204;
    return;
  }
  fail(res, 405, "method_not_allowed",
       req.method + " is not a method of " + req.path + " (allowed: " + allow
         + ")");
}

bool http_server::impl::open_stream(Response& res) {
  if (streams.fetch_add(1) >= cfg.max_streams) {
    streams.fetch_sub(1);
    fail(res, 503, "too_many_streams",
         "all " + std::to_string(cfg.max_streams)
           + " event streams are taken (http.max_streams)");
    return false;
  }
  return true;
}

void http_server::impl::add_fallbacks() {
  // Last, so that they take only what no route takes; the body methods read
  // (and drop) a body, so that it is not parsed as the next request.
  svr.Get(any_path, [this](const Request& req, Response& res) {
    if (http::has_body(req))
      http::close_after(res);
    unrouted(req, res);
  });
  svr.Options(any_path, [this](const Request& req, Response& res) {
    if (http::has_body(req))
      http::close_after(res);
    unrouted(req, res);
  });
  for (auto method : {"POST", "PUT", "PATCH", "DELETE"})
    with_body(method, any_path,
              [this](const Request& req, std::string&, Response& res) {
                unrouted(req, res);
              });
}

void http_server::impl::set_handlers() {
  svr.set_pre_routing_handler([this](const Request& req, Response& res) {
    if (token.empty() || req.path == "/healthz")
      return httplib::Server::HandlerResponse::Unhandled;
    auto given = http::bearer_of(req);
    if (!given.empty() && same_secret(given, token))
      return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer");
    // Its body stays unread.
    if (http::has_body(req))
      http::close_after(res);
    fail(res, 401, "unauthorized", "this route needs Authorization: Bearer");
    return httplib::Server::HandlerResponse::Handled;
  });
  // What reaches this without a body failed inside httplib, which passes a
  // bare status: each gets a message that is true whatever the cause.
  svr.set_error_handler([](const Request& req, Response& res) {
    if (!res.body.empty() || res.content_provider_)
      return;
    // A body of a request httplib refused (TRACE, ...) stays unread.
    if (http::has_body(req))
      http::close_after(res);
    switch (res.status) {
      case 400:
        // httplib fills in the peer's port once the headers are parsed.
        if (req.remote_port >= 0)
          return fail(res, 501, "not_implemented",
                      "method " + req.method + " is not implemented");
        return fail(res, 400, "bad_request",
                    "malformed HTTP request: the request line or a header "
                    "could not be parsed, or is too long");
      case 413:
        return fail(res, 413, "value_too_large",
                    "the request body is over http.max_body_bytes");
      case 414:
        return fail(res, 414, "uri_too_long",
                    "the request target is over 8192 bytes");
      case 416:
        return fail(res, 416, "range_not_satisfiable",
                    "the Range header is malformed or out of range");
      default:
        return fail(res, res.status, "http_" + std::to_string(res.status),
                    "HTTP error " + std::to_string(res.status));
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
}

caf::expected<std::unique_ptr<http_server::impl>>
http_server::impl::make(runtime& rt, http_config cfg, std::string name,
                        std::ostream* log) {
  auto where = parse_listen(cfg.listen);
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
  d->host = where->host;
  d->port = where->port;
  d->log = log;
  auto env = std::getenv("LABRT_TOKEN");
  bool from_env = env != nullptr && *env != '\0';
  d->token = from_env ? env : d->cfg.token;
  if (!d->token.empty()
      && d->token.size() < http_config::min_token_bytes)
    return make_error(errc::invalid_argument,
                      std::string{from_env ? "LABRT_TOKEN" : "http.token"}
                        + " must be at least "
                        + std::to_string(http_config::min_token_bytes) + " characters");
  if (!is_loopback(d->host) && d->token.empty())
    return make_error(errc::forbidden,
                      "refusing to listen on " + d->cfg.listen
                        + " without a token (set http.token or LABRT_TOKEN)");
  auto& svr = d->svr;
  svr.set_keep_alive_max_count(1000);
  // An idle keep-alive connection holds a pool thread, and a stop waits for
  // it, until this timeout: httplib's 5 s would hold up every stop with a
  // browser or a Python client attached. Clients reconnect when it lapses.
  svr.set_keep_alive_timeout(1);
  svr.set_payload_max_length(d->cfg.max_body_bytes);
  // A core of threads serves the usual few clients; the rest come and go
  // with their connections, and the listener joins ended ones when idle.
  // A second without a new connection after a burst, the memory the burst
  // freed goes back to the system rather than staying resident.
  auto threads = d->cfg.threads + d->cfg.max_streams;
  auto core = std::min<size_t>(threads, core_threads);
  svr.new_task_queue = [core, threads] {
    return new worker_pool(core, threads, [] { ::malloc_trim(0); });
  };
  svr.set_idle_interval(1);
  d->set_handlers();
  d->add_routes();
  d->add_fallbacks();
  d->metrics.seal();
  return d;
}

caf::expected<std::unique_ptr<http_server>>
http_server::make(runtime& rt, http_config cfg, std::string name,
                  std::ostream* log) {
  auto d = impl::make(rt, std::move(cfg), std::move(name), log);
  if (!d)
    return std::move(d.error());
  auto fd = listen_on((*d)->host, (*d)->port);
  if (!fd)
    return std::move(fd.error());
  (*d)->svr.adopt(*fd);
  (*d)->port = (*d)->svr.port();
  return std::unique_ptr<http_server>{new http_server(std::move(*d))};
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
  return "http://" + host_port(impl_->host, impl_->port);
}

void http_server::run() {
  impl_->svr.run();
}

void http_server::stop() {
  impl_->svr.stop();
}

} // namespace labrt
