// The inside of labrt::http_server, shared by its source files and the fuzz
// harness. Internal to labrt::http.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <regex.h>
#include <sys/socket.h>

#include <httplib.h>

#include "labrt/client.hpp"
#include "labrt/config.hpp"
#include "labrt/http.hpp"
#include "src/http/metrics.hpp"
#include "src/http/request.hpp"

namespace labrt {

/// httplib's Server with the listening socket in our hands and a seam into
/// its request processing.
class http_listener : public httplib::Server {
public:
  /// Takes a socket that is bound and listening (see `listen_on`).
  void adopt(int fd);

  /// The port adopt()'s socket listens on.
  uint16_t port() const noexcept;

  /// Stops accepting. Unlike httplib's stop(), which it hides, it also
  /// holds when called before run() has begun (run() then returns at once).
  void stop();

  /// Whether stop() was called: is_running() stays true until every
  /// request in progress has ended, so a long wait must look here.
  bool stopping() const noexcept {
    return svr_sock_ == INVALID_SOCKET;
  }

  /// Accepts connections until `stop`; httplib closes the socket then.
  void run() {
    started_ = true;
    listen_after_bind();
  }

  ~http_listener() override;

  /// Runs httplib's whole processing of requests (parsing, routing, handlers,
  /// writing the reply) over `strm`, as for one connection; for tests and
  /// fuzzing, which feed bytes without a socket.
  bool serve(httplib::Stream& strm) {
    bool closed = false;
    return process_request(strm, true, closed, nullptr);
  }

private:
  bool started_ = false;
  sockaddr_storage bound_{};
};

/// A socket listening on `host`:`port` (0: any free port). Unlike httplib it
/// sets no SO_REUSEPORT, so that a second server on a busy port fails with
/// "address in use" instead of sharing its connections.
caf::expected<int> listen_on(const std::string& host, int port);

/// HOST:PORT as parse_listen reads it: an IPv6 host in brackets.
std::string host_port(const std::string& host, int port);

/// The history query of ?limit, script, outcome, q (words), since, until,
/// before (a run id).
caf::expected<history_query> history_query_of(const http::Request& req);

struct http_server::impl {
  impl(runtime& r, http_config c, std::string n)
    : rt(r), cfg(std::move(c)), name(std::move(n)) {
  }

  /// Checks `cfg` and sets up the routes, without listening: `port` is the
  /// configured one, `svr.serve` already processes requests.
  static caf::expected<std::unique_ptr<impl>>
  make(runtime& rt, http_config cfg, std::string name, std::ostream* log);

  /// This worker thread's client. Worker threads belong to one server and end
  /// before `run` returns, so no client outlives the runtime.
  client& local();

  /// Registers a handler and counts its requests under `label`. Handlers of
  /// GET take (request, response); the others (request, body, response),
  /// with the body read before they run.
  template <class F>
  void route(const std::string& method, const std::string& pattern,
             const std::string& label, F fn) {
    auto index = metrics.add_route(method + " " + label);
    allow(method, pattern);
    if constexpr (std::is_invocable_v<F, const http::Request&,
                                      http::Response&>) {
      svr.Get(pattern, [this, index, fn](const http::Request& req,
                                          http::Response& res) {
        // httplib reads no GET body: what follows is not a request.
        if (http::has_body(req))
          http::close_after(res);
        timed(index, req, res, [&] { fn(req, res); });
      });
    } else {
      with_body(method, pattern,
                [this, index, fn](const http::Request& req,
                                  std::string& body, http::Response& res) {
                  timed(index, req, res, [&] { fn(req, body, res); });
                });
    }
  }

  using body_handler
    = std::function<void(const http::Request&, std::string&, http::Response&)>;

  /// Registers `fn` for `method` behind `read_body`.
  void with_body(const std::string& method, const std::string& pattern,
                 body_handler fn);

  /// Runs a handler, records it under route `index` and logs notable replies.
  template <class F>
  void timed(size_t index, const http::Request& req, http::Response& res,
             F&& handler) {
    auto t0 = std::chrono::steady_clock::now();
    handler();
    metrics.record(index, res.status, std::chrono::steady_clock::now() - t0);
    if (log != nullptr)
      log_notable(req, res);
  }

  /// One line on `log` for a 5xx or a refused POST under /api/test.
  void log_notable(const http::Request& req, const http::Response& res);

  /// Notes that `pattern` takes `method`, for `unrouted`.
  void allow(const std::string& method, const std::string& pattern);

  /// A request no route takes: 405 with Allow if its path has routes for
  /// other methods, else 404.
  void unrouted(const http::Request& req, http::Response& res);

  /// Takes a stream slot; false (after replying 503) when all are taken.
  bool open_stream(http::Response& res);

  /// Reads a chunk of one run's log from an offset, with the run's record.
  using log_source = std::function<caf::expected<log_chunk>(uint64_t)>;

  /// Serves the log `read` reads: all of it, or with follow=1 a live tail
  /// until the run has ended, woken by this runtime's events.
  void serve_log(const http::Request& req, http::Response& res,
                 log_source read);

  void add_routes();
  void add_test_routes();
  void add_kv_routes();
  /// GET (a namespace, one key), PUT and DELETE of kv keys under `base`, on
  /// the store `kv_of(request)` returns.
  template <class KvOf>
  void add_kv_routes_at(const std::string& base, const std::string& label,
                        KvOf kv_of);
  void add_manager_routes();
  void add_stream_routes();
  void add_cluster_routes();
  void add_fallbacks();
  void set_handlers();

  runtime& rt;
  http_config cfg;
  std::string name;
  std::string token;
  std::ostream* log = nullptr;
  http_listener svr;
  http::request_metrics metrics;
  /// Every route's pattern and method, for 405 and Allow. POSIX regexes:
  /// compiling a std::regex here trips a false -Wmaybe-uninitialized in
  /// GCC 12's <regex> under sanitizers.
  std::vector<std::pair<std::shared_ptr<const regex_t>, std::string>> allowed;
  std::atomic<size_t> streams{0};
  /// The configured port until `http_server::make` has bound it.
  uint16_t port = 0;
  std::string host;
};

} // namespace labrt
