// labctl's HTTP plumbing: a thin wrapper around httplib::Client that turns
// every response or transport error into one result carrying the exit code
// of the client commands and a message for stderr.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "labrt/json.hpp"

namespace httplib {
class Client;
} // namespace httplib

namespace labctl {

/// Exit codes of the client commands (also in `labctl --help` and README).
enum exit_codes : int {
  exit_ok = 0,
  exit_refused = 1,     ///< The API said no (4xx/5xx other than 404).
  exit_usage = 2,       ///< Bad command line or input.
  exit_unreachable = 3, ///< No answer from the server.
  exit_not_found = 4,   ///< 404: no such key, run, queue entry or service.
};

/// Where the daemon is and how to authenticate.
struct connection {
  std::string server = "http://127.0.0.1:8080";
  std::string token;
};

/// One exchange with the API.
struct api_result {
  int exit = exit_ok;
  int status = 0;   ///< HTTP status, 0 if there was no response.
  std::string text; ///< The raw body (what `--json` prints).
  labrt::json body; ///< The body parsed, or null if it is not JSON.
  std::string run_id; ///< The X-Run-Id header (logs only).
  std::string message; ///< Why it failed, for stderr.

  explicit operator bool() const {
    return exit == exit_ok;
  }
};

/// `text` with all but unreserved characters (and '/' if `keep_slash`)
/// percent-encoded, for a path or a query parameter.
std::string url_encode(const std::string& text, bool keep_slash = false);

/// Called with each piece of a streamed body; false stops the stream.
using chunk_fn = std::function<bool(const char* data, size_t size)>;

class api_client {
public:
  /// Fails with exit_usage if `conn.server` is not http://HOST[:PORT].
  static std::optional<api_client> make(const connection& conn,
                                        std::string& error);

  api_client(api_client&&) noexcept;
  ~api_client();

  api_result get(const std::string& path);
  api_result post(const std::string& path, const labrt::json& body);
  /// PUT with If-Match: "rev" when `if_rev` is set.
  api_result put(const std::string& path, const labrt::json& body,
                 std::optional<uint64_t> if_rev = std::nullopt);
  api_result patch(const std::string& path, const labrt::json& body,
                   const std::string& content_type);
  api_result del(const std::string& path);

  /// A GET whose body goes to `on_chunk` as it arrives (event streams, log
  /// tails), with no read timeout: such a stream may stay quiet for long.
  /// On success `text` stays empty; an error body is read whole instead.
  api_result stream(const std::string& path, const chunk_fn& on_chunk);

  const std::string& server() const {
    return server_;
  }

private:
  api_client(std::unique_ptr<httplib::Client> cli, std::string server);

  std::unique_ptr<httplib::Client> cli_;
  std::string server_;
};

/// Prints `res.message` as "labctl: ..." on stderr and returns `res.exit`;
/// with `as_json`, an API error body goes to stdout too.
int report_failure(const api_result& res, bool as_json);

} // namespace labctl
