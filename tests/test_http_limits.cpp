// The HTTP API's hardening: bodies, framing, methods, errors, limits. Some
// requests go over a raw socket, to be what httplib's client never sends.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <httplib.h>

#include "http_support.hpp"
#include "src/process.hpp"

using namespace labrt;
using namespace labrt::test;
namespace fs = std::filesystem;

namespace {

/// A reply read off a raw socket.
struct raw_reply {
  int status = 0;
  std::string head; ///< Status line and headers.
  std::string body;
};

/// A client connection that sends bytes as given, so that requests can lack
/// what httplib's client always adds (Content-Length) or be malformed.
/// It never half-closes: a server that waits for a body would wait.
struct raw_conn {
  explicit raw_conn(uint16_t port) {
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.get() >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr),
                      sizeof addr)
            == 0);
  }

  void send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      auto n = ::send(fd.get(), bytes.data() + sent, bytes.size() - sent,
                      MSG_NOSIGNAL);
      REQUIRE(n > 0);
      sent += static_cast<size_t>(n);
    }
  }

  /// The next reply, which must be complete before `limit` runs out.
  raw_reply receive(std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    auto complete = [this]() -> std::optional<size_t> {
      auto end = buffer.find("\r\n\r\n");
      if (end == std::string::npos)
        return std::nullopt;
      auto head = buffer.substr(0, end);
      size_t length = 0;
      auto at = head.find("Content-Length: ");
      if (at != std::string::npos)
        length = std::stoul(head.substr(at + 16));
      if (buffer.size() < end + 4 + length)
        return std::nullopt;
      return end + 4 + length;
    };
    while (!complete()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
      pollfd p{fd.get(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        FAIL("no complete reply within " << limit.count() << " ms; got: "
                                         << buffer);
      char buf[4096];
      auto n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n <= 0)
        FAIL("the server closed the connection; got: " << buffer);
      buffer.append(buf, static_cast<size_t>(n));
    }
    auto size = *complete();
    auto end = buffer.find("\r\n\r\n");
    raw_reply r;
    r.head = buffer.substr(0, end);
    r.body = buffer.substr(end + 4, size - end - 4);
    r.status = std::stoi(r.head.substr(9, 3));
    buffer.erase(0, size);
    return r;
  }

  unique_fd fd;
  std::string buffer;
};

/// Well before httplib's 5 s read timeout, which a server waiting for a body
/// that never comes would run into.
constexpr std::chrono::milliseconds at_once{2500};

/// The error code of a raw reply's JSON body.
std::string code_of(const raw_reply& r) {
  INFO(r.head << "\n\n" << r.body);
  return json::parse(r.body).at("code").get<std::string>();
}

} // namespace

TEST_CASE("bad input gets its 4xx and changes nothing", "[http]") {
  http_config small;
  small.max_body_bytes = 4096;
  api a{small};
  auto cli = a.connect();
  body_of(cli.Put("/api/kv/keep", "1", "application/json"));
  auto before = body_of(cli.Get("/api/kv"));
  auto json_type = "application/json";
  // Test starts.
  require_error(post(cli, "/api/test/start", {{"script", "/bin/ls"}}), 403,
                "forbidden");
  require_error(post(cli, "/api/test/start", {{"script", "../../etc/passwd"}}),
                403, "forbidden");
  require_error(post(cli, "/api/test/start", {{"script", "no_such.sh"}}), 404,
                "not_found");
  require_error(post(cli, "/api/test/start", {{"args", json::array()}}), 400,
                "invalid_argument");
  require_error(post(cli, "/api/test/start",
                     {{"script", "sleep.sh"}, {"args", "not a list"}}),
                400, "wrong_type");
  require_error(post(cli, "/api/test/start",
                     {{"script", "sleep.sh"}, {"cwd", "/"}}),
                400, "invalid_argument");
  require_error(cli.Post("/api/test/start", "{\"script\": ", json_type), 400,
                "invalid_argument");
  require_error(cli.Post("/api/test/start", "[1, 2]", json_type), 400,
                "wrong_type");
  require_error(cli.Post("/api/test/start", "{\"script\": \"\xff\xfe\"}",
                         json_type),
                400, "invalid_argument");
  require_error(cli.Post("/api/test/start", std::string(8192, ' '), json_type),
                413, "value_too_large");
  // The kv store.
  require_error(cli.Put("/api/kv/keep", "{", json_type), 400,
                "invalid_argument");
  require_error(cli.Put("/api/kv/keep", "\"\xc3\x28\"", json_type), 400,
                "invalid_argument");
  require_error(cli.Put(("/api/kv/" + std::string(300, 'k')).c_str(), "1",
                        json_type),
                400, "key_too_long");
  require_error(cli.Patch("/api/kv/keep", "{}", json_type), 415,
                "unsupported_media_type");
  require_error(cli.Patch("/api/kv/keep",
                          R"([{"op": "test", "path": "", "value": 2}])",
                          "application/json-patch+json"),
                400, "patch_failed");
  require_error(cli.Get("/api/kv/absent"), 404, "not_found");
  require_error(cli.Get("/api/history?limit=x"), 400, "invalid_argument");
  require_error(cli.Get("/api/history?outcome=won"), 400, "invalid_argument");
  require_error(cli.Get("/api/history?since=yesterday"), 400, "invalid_argument");
  require_error(cli.Get("/api/history?until=2026-13"), 400, "invalid_argument");
  httplib::Headers stale{{"If-Match", "\"999\""}};
  auto res = cli.Put("/api/kv/keep", stale, "2", json_type);
  require_error(res, 412, "precondition_failed");
  CHECK(json::parse(res->body).at("revision") == 1);
  httplib::Headers bogus{{"If-Match", "yesterday"}};
  require_error(cli.Put("/api/kv/keep", bogus, "2", json_type), 400,
                "invalid_argument");
  // Nothing changed.
  CHECK(body_of(cli.Get("/api/kv")) == before);
  CHECK(body_of(cli.Get("/api/test/status")).at("running") == false);
  CHECK(body_of(cli.Get("/api/history")).empty());
}

TEST_CASE("a request without Content-Length has an empty body, answered at once",
          "[http]") {
  api a;
  raw_conn conn{a.server->port()};
  // Keep-alive: every reply comes on the same connection, in order.
  conn.send("POST /api/test/stop HTTP/1.1\r\nHost: t\r\n\r\n");
  auto stop = conn.receive(at_once);
  CHECK(stop.status == 409);
  CHECK(code_of(stop) == "not_running");
  conn.send("PUT /api/kv/k HTTP/1.1\r\nHost: t\r\n"
            "Content-Type: application/json\r\n\r\n");
  auto put = conn.receive(at_once);
  CHECK(put.status == 400);
  CHECK(put.body.find("needs a JSON body") != std::string::npos);
  conn.send("PATCH /api/kv/k HTTP/1.1\r\nHost: t\r\n"
            "Content-Type: application/merge-patch+json\r\n\r\n");
  CHECK(conn.receive(at_once).status == 400);
  conn.send("DELETE /api/kv/k HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(conn.receive(at_once).status == 404);
  conn.send("POST /api/no/such/route HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(conn.receive(at_once).status == 404);
  // A body with Content-Length and a chunked one are read as before.
  conn.send("PUT /api/kv/k HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n42");
  CHECK(conn.receive(at_once).status == 200);
  conn.send("PUT /api/kv/c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            "\r\n2\r\n[1\r\n2\r\n,2\r\n1\r\n]\r\n0\r\n\r\n");
  CHECK(conn.receive(at_once).status == 200);
  conn.send("GET /api/kv HTTP/1.1\r\nHost: t\r\n\r\n");
  auto listing = json::parse(conn.receive(at_once).body).at("entries");
  REQUIRE(listing.size() == 2);
  CHECK(listing[0].at("value") == json::array({1, 2}));
  CHECK(listing[1].at("value") == 42);
  if (fs::exists("/usr/bin/curl")) {
    auto url = "http://127.0.0.1:" + std::to_string(a.server->port());
    auto [status, output] = run_shell("/usr/bin/curl -sS --max-time 2.5 -X POST "
                                      + url + "/api/test/stop");
    INFO(output);
    CHECK(status == 0);
    CHECK(output.find("not_running") != std::string::npos);
  } else {
    WARN("no /usr/bin/curl: the curl -X POST case is not run");
  }
}

TEST_CASE("bodies are read whatever their type, up to the true limit", "[http]") {
  api a;
  auto cli = a.connect();
  // What curl -d sends: httplib alone caps form bodies at 8 KiB.
  auto big = json{{"blob", std::string(100 * 1024, 'x')}};
  auto form = "application/x-www-form-urlencoded";
  auto put = cli.Put("/api/kv/big", big.dump(), form);
  REQUIRE(put);
  INFO(put->body);
  CHECK(put->status == 200);
  CHECK(body_of(cli.Get("/api/kv/big")).at("value") == big);
  auto started = cli.Post("/api/test/start", R"({"script": "exit_with.sh"})", form);
  REQUIRE(started);
  CHECK(started->status == 201);
  // Over http.max_body_bytes (1 MiB): a 413 that says so, with Content-Length
  // and chunked alike, and nothing stored.
  std::string over(1024 * 1024 + 1, ' ');
  auto res = cli.Put("/api/kv/over", over, form);
  require_error(res, 413, "value_too_large");
  CHECK(res->body.find("http.max_body_bytes (1048576 bytes)") != std::string::npos);
  raw_conn conn{a.server->port()};
  conn.send("PUT /api/kv/over HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
            "\r\n\r\n100001\r\n" + std::string(0x100001, ' ') + "\r\n0\r\n\r\n");
  auto chunked = conn.receive(at_once);
  CHECK(chunked.status == 413);
  CHECK(code_of(chunked) == "value_too_large");
  require_error(cli.Get("/api/kv/over"), 404, "not_found");
  if (fs::exists("/usr/bin/curl")) {
    auto url = "http://127.0.0.1:" + std::to_string(a.server->port());
    auto [status, output] = run_shell(
      "/usr/bin/curl -sS --max-time 5 -X PUT -d '{\"via\": \"curl\"}' " + url
      + "/api/kv/curl");
    INFO(output);
    CHECK(status == 0);
    CHECK(body_of(cli.Get("/api/kv/curl")).at("value").at("via") == "curl");
  }
}

TEST_CASE("media types and Bearer in any case, 405 with Allow, true httplib errors",
          "[http]") {
  http_config http;
  http.token = "0123456789abcdef-secret";
  ::unsetenv("LABRT_TOKEN");
  api a{http};
  auto cli = a.connect();
  for (auto scheme : {"bearer ", "BEARER  ", "Bearer "}) {
    httplib::Headers auth{{"Authorization", scheme + http.token}};
    CHECK(cli.Get("/api/kv", auth)->status == 200);
  }
  cli.set_bearer_token_auth(http.token.c_str());
  body_of(cli.Put("/api/kv/doc", "{}", "Application/JSON"));
  auto patched = cli.Patch("/api/kv/doc", R"({"a": 1})",
                           "Application/Merge-Patch+JSON; charset=UTF-8");
  CHECK(body_of(patched).at("value") == json{{"a", 1}});
  // A known path with another method.
  auto wrong = cli.Post("/api/kv/doc", "{}", "application/json");
  require_error(wrong, 405, "method_not_allowed");
  CHECK(wrong->get_header_value("Allow") == "DELETE, GET, HEAD, OPTIONS, PATCH, PUT");
  auto get_start = cli.Get("/api/test/start");
  require_error(get_start, 405, "method_not_allowed");
  CHECK(get_start->get_header_value("Allow") == "OPTIONS, POST");
  auto options = cli.Options("/api/kv");
  REQUIRE(options);
  CHECK(options->status == 204);
  CHECK(options->get_header_value("Allow") == "DELETE, GET, HEAD, OPTIONS, PATCH");
  require_error(cli.Delete("/api/nothing"), 404, "not_found");
  // Failures inside httplib: a message that fits whatever the cause.
  auto raw = [&](const std::string& request) {
    raw_conn conn{a.server->port()};
    conn.send(request);
    return conn.receive(at_once);
  };
  auto garbage = raw("NOT HTTP AT ALL\r\n\r\n");
  CHECK(garbage.status == 400);
  CHECK(code_of(garbage) == "bad_request");
  CHECK(garbage.body.find("Content-Length") == std::string::npos);
  auto long_header = raw("GET /healthz HTTP/1.1\r\nX-Long: "
                         + std::string(9000, 'x') + "\r\n\r\n");
  CHECK(long_header.status == 400);
  CHECK(code_of(long_header) == "bad_request");
  auto trace = raw("TRACE /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(trace.status == 501);
  CHECK(code_of(trace) == "not_implemented");
  auto auth = "Authorization: Bearer " + http.token + "\r\n";
  auto gzip = raw("PUT /api/kv/doc HTTP/1.1\r\n" + auth
                  + "Transfer-Encoding: gzip\r\n\r\n");
  CHECK(gzip.status == 400);
  CHECK(gzip.body.find("Transfer-Encoding must be chunked") != std::string::npos);
  auto form = raw("POST /api/test/start HTTP/1.1\r\n" + auth
                  + "Content-Type: multipart/form-data; boundary=x\r\n"
                    "Content-Length: 4\r\n\r\n--x\n");
  CHECK(form.status == 415);
  // A refused request's unread body is not taken for the next request.
  auto refused = raw("PUT /api/kv/doc HTTP/1.1\r\nContent-Length: 1\r\n\r\n2");
  CHECK(refused.status == 401);
  CHECK(refused.head.find("\r\nConnection: close") != std::string::npos);
  // Nothing of it was applied.
  CHECK(body_of(cli.Get("/api/kv/doc")).at("value") == json{{"a", 1}});
}

/// Whether stopping `a`'s server and joining its thread ends within at_once,
/// done by another thread (which is left ended either way).
bool stops_at_once(api& a) {
  std::promise<void> stopped;
  auto done = stopped.get_future();
  std::thread stopper{[&] {
    a.server->stop();
    a.thread.join();
    stopped.set_value();
  }};
  auto ok = done.wait_for(at_once) == std::future_status::ready;
  if (!ok)
    a.server->stop(); // A lost stop: this one lets the stopper end.
  stopper.join();
  return ok;
}

TEST_CASE("a stop does not wait out httplib's keep-alive timeout", "[http]") {
  api a;
  // httplib's default would keep each for 5 s: one that had a reply and
  // one that never sent a byte.
  raw_conn used{a.server->port()};
  used.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(used.receive(at_once).status == 200);
  raw_conn silent{a.server->port()};
  REQUIRE(stops_at_once(a));
  char byte = 0;
  CHECK(::recv(used.fd.get(), &byte, 1, 0) == 0);
  // Closed too; reset instead if the stop came before it was accepted.
  auto n = ::recv(silent.fd.get(), &byte, 1, 0);
  INFO("recv: " << n << ", errno " << errno);
  CHECK((n == 0 || (n < 0 && errno == ECONNRESET)));
}

TEST_CASE("a stop that comes before the server runs is not lost", "[http]") {
  // The serving thread has just been started: httplib's own stop() is a
  // no-op until that thread listens, and run() would then serve for ever.
  for (int i = 0; i < 20; ++i) {
    api a;
    REQUIRE(stops_at_once(a));
  }
}
