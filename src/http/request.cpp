#include "src/http/request.hpp"

#include <cctype>
#include <charconv>
#include <set>

#include "labrt/errc.hpp"
#include "labrt/interfaces.hpp"

namespace labrt::http {

namespace {

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
    case errc::value_too_large:
      return 413;
    case errc::shutting_down:
    case errc::storage_failed:
    case errc::unavailable:
      return 503;
    case errc::timeout:
      return 504;
    default:
      return 500;
  }
}

/// ASCII lower case: header values and tokens compare case-insensitively
/// (RFC 9110), and std::tolower would depend on the locale.
std::string lower(std::string text) {
  for (auto& c : text)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return text;
}

/// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos)
    return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

caf::error bad_request(std::string message) {
  return make_error(errc::invalid_argument, std::move(message));
}

} // namespace

// -- replies -----------------------------------------------------------------

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

void fail(Response& res, const caf::error& err) {
  auto code = code_of(err);
  if (code == errc{})
    return fail(res, 500, "internal", render(err));
  fail(res, status_of(code), to_string(code), message_of(err));
}

void close_after(Response& res) {
  res.set_header("Connection", "close");
}

// -- requests ----------------------------------------------------------------

bool has_body(const Request& req) {
  return req.has_header("Content-Length")
         || req.has_header("Transfer-Encoding");
}

std::string media_type_of(const Request& req) {
  auto type = req.get_header_value("Content-Type");
  return lower(trim(type.substr(0, type.find(';'))));
}

bool read_body(const Request& req, Response& res,
               const httplib::ContentReader& reader, size_t max_bytes,
               std::string& body) {
  auto refuse = [&res](int status, const std::string& code,
                       const std::string& message) {
    close_after(res);
    fail(res, status, code, message);
    return false;
  };
  // RFC 9112 6.3: without either header, a request has no body.
  if (!has_body(req))
    return true;
  bool chunked = req.has_header("Transfer-Encoding");
  bool sized = req.has_header("Content-Length");
  if (chunked && sized)
    return refuse(400, "invalid_argument",
                  "a request with both Transfer-Encoding and Content-Length "
                  "is ambiguous: send one of them");
  if (chunked
      && lower(trim(req.get_header_value("Transfer-Encoding"))) != "chunked")
    return refuse(400, "invalid_argument",
                  "Transfer-Encoding must be chunked, not '"
                    + req.get_header_value("Transfer-Encoding") + "'");
  // httplib reads a DELETE body only by its length.
  if (chunked && req.method == "DELETE")
    return refuse(400, "invalid_argument",
                  "a DELETE body needs Content-Length, not chunked encoding");
  if (sized) {
    auto text = req.get_header_value("Content-Length");
    if (req.get_header_value_count("Content-Length") != 1 || text.empty()
        || text.size() > 19
        || text.find_first_not_of("0123456789") != std::string::npos)
      return refuse(400, "invalid_argument",
                    "Content-Length must be one decimal number, not '" + text
                      + "'");
  }
  // httplib would hand multipart bodies to parts receivers we do not have.
  if (media_type_of(req).rfind("multipart/", 0) == 0)
    return refuse(415, "unsupported_media_type",
                  "the API takes JSON bodies, not multipart forms");
  bool over = false;
  auto whole = reader([&](const char* data, size_t n) {
    if (n > max_bytes - body.size()) {
      over = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (whole)
    return true;
  // httplib skips a body whose Content-Length is over the limit (413).
  if (over || res.status == 413)
    return refuse(413, "value_too_large",
                  "the request body is over http.max_body_bytes ("
                    + std::to_string(max_bytes) + " bytes)");
  return refuse(400, "invalid_argument",
                "the request body could not be read: it ended early, timed "
                "out, or its chunked or compressed framing is malformed");
}

std::optional<json> json_of(const std::string& body, Response& res) {
  if (body.empty()) {
    fail(res, 400, "invalid_argument", "the request needs a JSON body");
    return std::nullopt;
  }
  try {
    return json::parse(body);
  } catch (const json::parse_error& ex) {
    fail(res, 400, "invalid_argument", "malformed JSON: " + what_of(ex));
    return std::nullopt;
  }
}

std::optional<json> object_of(const std::string& body, Response& res) {
  auto value = json_of(body, res);
  if (value && !value->is_object()) {
    fail(res, 400, "wrong_type",
         std::string{"the body must be a JSON object, not "}
           + value->type_name());
    return std::nullopt;
  }
  return value;
}

namespace {

/// Whether a remote caller may set `name` in a run's environment. Some names
/// change how the loader, a shell or an interpreter runs the script rather
/// than what the script is told: with them a caller could run code of its
/// own under the roots' scripts. (bash's exported functions, BASH_FUNC_f%%,
/// are not plain names and never get here.)
bool settable_remotely(const std::string& name) {
  static const std::set<std::string> names = {
    "BASH_ENV", "BASHOPTS", "CDPATH", "ENV", "GCONV_PATH", "GLOBIGNORE",
    "HOSTALIASES", "IFS", "JAVA_TOOL_OPTIONS", "LOCALDOMAIN", "LOCPATH",
    "NLSPATH", "PATH", "PS4", "RES_OPTIONS", "SHELLOPTS"};
  static const char* const prefixes[] = {"LD_",   "BASH_FUNC_", "GLIBC_",
                                         "LABRT_", "NODE_",     "PERL",
                                         "PYTHON", "RUBY"};
  if (names.count(name) > 0)
    return false;
  for (auto prefix : prefixes)
    if (name.rfind(prefix, 0) == 0)
      return false;
  return true;
}

bool plain_name(const std::string& name) {
  return !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]))
         && name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz0123456789_")
              == std::string::npos;
}

} // namespace

std::optional<run_spec> spec_of(const std::string& body, Response& res) {
  auto fields = object_of(body, res);
  if (!fields)
    return std::nullopt;
  // cwd, log and use_shell stay local: over HTTP they would let a caller
  // write or run anything.
  static const std::set<std::string> allowed = {
    "script", "args", "bin", "topology", "topology_file", "timeout_ms", "env"};
  for (auto& [key, value] : fields->items())
    if (allowed.count(key) == 0) {
      fail(res, 400, "invalid_argument",
           "'" + key + "' is not a field of a run (known: script, args, bin, "
             "topology, topology_file, timeout_ms, env)");
      return std::nullopt;
    }
  if (!fields->contains("script")) {
    fail(res, 400, "invalid_argument", "'script' is required");
    return std::nullopt;
  }
  run_spec spec;
  try {
    spec = fields->get<run_spec>();
  } catch (const json::exception& ex) {
    fail(res, 400, "wrong_type", what_of(ex));
    return std::nullopt;
  }
  for (auto& [name, value] : spec.env) {
    if (!plain_name(name)) {
      fail(res, 400, "invalid_argument",
           "env name '" + name + "' is not a plain name (letters, digits, _)");
      return std::nullopt;
    }
    if (!settable_remotely(name)) {
      fail(res, 403, "forbidden",
           "env '" + name + "' changes how the script is run and cannot be "
           "set over HTTP");
      return std::nullopt;
    }
  }
  return spec;
}

std::optional<uint64_t> revision_of(const std::string& etag) {
  auto text = trim(etag);
  if (text.rfind("W/", 0) == 0)
    text.erase(0, 2);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
    text = text.substr(1, text.size() - 2);
  uint64_t value = 0;
  auto end = text.data() + text.size();
  // from_chars refuses signs, spaces and anything past UINT64_MAX, which is
  // labrt::events_from_now and so must parse.
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end)
    return std::nullopt;
  return value;
}

caf::expected<uint64_t> number_param(const Request& req, const char* key,
                                     uint64_t max,
                                     std::optional<uint64_t> fallback) {
  if (!req.has_param(key) && fallback)
    return *fallback;
  auto text = req.get_param_value(key);
  uint64_t value = 0;
  auto end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value > max)
    return make_error(errc::invalid_argument,
                      std::string{key} + " must be a number from 0 to "
                        + std::to_string(max));
  return value;
}

std::string etag_of(uint64_t revision) {
  return "\"" + std::to_string(revision) + "\"";
}

caf::expected<std::optional<uint64_t>> precondition_of(const Request& req) {
  bool match = req.has_header("If-Match");
  bool none_match = req.has_header("If-None-Match");
  if (match && none_match)
    return bad_request("send If-Match or If-None-Match, not both");
  if (match) {
    auto value = req.get_header_value("If-Match");
    if (trim(value) == "*")
      return std::optional<uint64_t>{any_revision};
    // If-Match compares strongly (RFC 9110 13.1.1): a weak tag never
    // matches, so it is refused like any tag this API never hands out.
    auto rev = trim(value).rfind("W/", 0) == 0 ? std::nullopt
                                                : revision_of(value);
    if (!rev || *rev == any_revision)
      return bad_request("If-Match must be * or an ETag of this API, e.g. "
                         "\"12\", not '" + value + "'");
    return std::optional<uint64_t>{*rev};
  }
  if (none_match) {
    if (trim(req.get_header_value("If-None-Match")) != "*")
      return bad_request("If-None-Match takes only * (create if absent)");
    return std::optional<uint64_t>{0};
  }
  return std::optional<uint64_t>{};
}

std::string bearer_of(const Request& req) {
  // RFC 9110 11.1: the scheme is case-insensitive; one or more spaces follow.
  auto auth = trim(req.get_header_value("Authorization"));
  auto space = auth.find(' ');
  if (space != std::string::npos && lower(auth.substr(0, space)) == "bearer")
    return trim(auth.substr(space));
  // EventSource cannot set headers: the page passes ?access_token= (RFC 6750).
  return req.get_param_value("access_token");
}

} // namespace labrt::http
