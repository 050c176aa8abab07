// api_client: httplib::Client responses and errors -> api_result.
#include "http_client.hpp"

#include <cctype>
#include <cstdio>
#include <iostream>

#include <httplib.h>

namespace labctl {

namespace {

using labrt::json;

/// The result of a finished exchange: exit code by status, message from
/// the API's {"error": ...} body when it has one.
api_result result_of(const httplib::Result& res, const std::string& server) {
  api_result out;
  if (!res) {
    out.exit = exit_unreachable;
    out.message = "cannot reach " + server + ": " + httplib::to_string(res.error())
                  + " error (is `labctl serve` running there?)";
    return out;
  }
  out.status = res->status;
  out.text = res->body;
  out.body = json::parse(res->body, nullptr, false);
  if (out.body.is_discarded())
    out.body = nullptr;
  out.run_id = res->get_header_value("X-Run-Id");
  if (out.status >= 200 && out.status < 300)
    return out;
  out.exit = out.status == 404 ? exit_not_found : exit_refused;
  auto error = out.body.is_object() ? out.body.value("error", json{}) : json{};
  out.message = error.is_string()
                  ? error.get<std::string>()
                  : "HTTP " + std::to_string(out.status) + " from " + server;
  // A stale --if-rev: say what the revision is now.
  if (out.status == 412 && out.body.contains("revision"))
    out.message += " (the key is at revision "
                   + out.body.at("revision").dump() + ")";
  return out;
}

const char* const json_type = "application/json";

} // namespace

std::optional<api_client> api_client::make(const connection& conn,
                                           std::string& error) {
  auto url = conn.server;
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  if (url.find("://") == std::string::npos)
    url = "http://" + url;
  auto scheme_end = url.find("://") + 3;
  auto scheme = url.substr(0, scheme_end - 3);
  if ((scheme != "http" && scheme != "https")
      || url.find('/', scheme_end) != std::string::npos
      || url.size() == scheme_end) {
    error = "--server must be http://HOST[:PORT], not '" + conn.server + "'";
    return std::nullopt;
  }
  auto cli = std::make_unique<httplib::Client>(url);
  if (!cli->is_valid()) {
    error = "--server must be http://HOST[:PORT], not '" + conn.server + "'";
    return std::nullopt;
  }
  // Same reason as the server: Nagle and delayed ACKs hold back every
  // request on a keep-alive connection.
  cli->set_tcp_nodelay(true);
  cli->set_connection_timeout(5, 0);
  cli->set_read_timeout(30, 0);
  if (!conn.token.empty())
    cli->set_bearer_token_auth(conn.token);
  return api_client{std::move(cli), url};
}

api_client::api_client(std::unique_ptr<httplib::Client> cli, std::string server)
  : cli_(std::move(cli)), server_(std::move(server)) {
}

api_client::api_client(api_client&&) noexcept = default;

api_client::~api_client() = default;

api_result api_client::get(const std::string& path) {
  return result_of(cli_->Get(path), server_);
}

api_result api_client::post(const std::string& path, const json& body) {
  return result_of(cli_->Post(path, body.dump(), json_type), server_);
}

api_result api_client::put(const std::string& path, const json& body,
                           std::optional<uint64_t> if_rev) {
  httplib::Headers headers;
  if (if_rev)
    headers.emplace("If-Match", "\"" + std::to_string(*if_rev) + "\"");
  return result_of(cli_->Put(path, headers, body.dump(), json_type), server_);
}

api_result api_client::patch(const std::string& path, const json& body,
                             const std::string& content_type) {
  return result_of(cli_->Patch(path, body.dump(), content_type.c_str()),
                   server_);
}

api_result api_client::del(const std::string& path) {
  return result_of(cli_->Delete(path), server_);
}

std::string url_encode(const std::string& text, bool keep_slash) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~'
        || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

api_result api_client::stream(const std::string& path,
                              const chunk_fn& on_chunk) {
  int status = 0;
  std::string error_body;
  bool stopped = false;
  cli_->set_read_timeout(24 * 3600, 0);
  auto res = cli_->Get(
    path, httplib::Headers{},
    [&](const httplib::Response& r) {
      status = r.status;
      return true;
    },
    [&](const char* data, size_t size) {
      if (status < 200 || status >= 300) {
        error_body.append(data, size);
        return true;
      }
      if (!on_chunk(data, size))
        stopped = true;
      return !stopped;
    });
  cli_->set_read_timeout(30, 0);
  if (stopped && !res && res.error() == httplib::Error::Canceled) {
    api_result out;
    out.status = status;
    return out;
  }
  auto out = result_of(res, server_);
  if (!out && out.status != 0) {
    // httplib leaves the body of a streamed response empty.
    out.text = error_body;
    out.body = json::parse(error_body, nullptr, false);
    if (out.body.is_discarded())
      out.body = nullptr;
    if (out.body.is_object() && out.body.value("error", json{}).is_string())
      out.message = out.body.at("error").get<std::string>();
  }
  return out;
}

int report_failure(const api_result& res, bool as_json) {
  if (as_json && !res.text.empty())
    std::cout << res.text << std::endl;
  std::cerr << "labctl: " << res.message << "\n";
  return res.exit;
}

} // namespace labctl
