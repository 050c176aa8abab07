// Reading requests and writing replies for the routes of the HTTP API.
// Internal to labrt::http.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <httplib.h>

#include "labrt/json.hpp"
#include "labrt/run_types.hpp"

namespace labrt::http {

using httplib::Request;
using httplib::Response;

// -- replies -----------------------------------------------------------------

/// `value` as JSON text; invalid UTF-8 (from script output) is replaced.
std::string dump(const json& value);

void reply(Response& res, int status, const json& body);

/// An error body `{"error": message, "code": code}` with `status`.
void fail(Response& res, int status, const std::string& code,
          const std::string& message);

/// A labrt error with the status that fits its code.
void fail(Response& res, const caf::error& err);

/// Replies with the value of `x` (status `ok`) or its error.
template <class T>
void reply(Response& res, const caf::expected<T>& x, int ok = 200) {
  if (x)
    reply(res, ok, json(*x));
  else
    fail(res, x.error());
}

/// Tells the client to close the connection: what follows the headers on it
/// is not known to be a request (an unread or unframed body).
void close_after(Response& res);

// -- requests ----------------------------------------------------------------

/// Whether the request is framed with a body (RFC 9112 6.3).
bool has_body(const Request& req);

/// The media type of the request: lower case, without parameters.
std::string media_type_of(const Request& req);

/// Reads the body as RFC 9112 frames it: chunked, or Content-Length bytes;
/// with neither it is empty and nothing is read. Whatever the media type, up
/// to `max_bytes`. False after replying with the reason (400, 413, 415).
bool read_body(const Request& req, Response& res,
               const httplib::ContentReader& reader, size_t max_bytes,
               std::string& body);

/// The body as JSON; nullopt after replying 400. nlohmann's parser refuses
/// invalid UTF-8 inside strings, so no separate check is needed.
std::optional<json> json_of(const std::string& body, Response& res);

/// A body that must be a JSON object.
std::optional<json> object_of(const std::string& body, Response& res);

/// A run_spec from the keys a remote caller may set.
std::optional<run_spec> spec_of(const std::string& body, Response& res);

/// The revision in an ETag: `"12"`, `W/"12"` or `12`.
std::optional<uint64_t> revision_of(const std::string& etag);

std::string etag_of(uint64_t revision);

/// Query parameter `key` as a decimal number from 0 to `max`; `fallback`
/// when it is absent (an error if there is none).
caf::expected<uint64_t> number_param(const Request& req, const char* key,
                                     uint64_t max,
                                     std::optional<uint64_t> fallback = {});

/// The expected revision of a conditional write: If-Match with an ETag of
/// this API or `*` (any_revision), If-None-Match `*` (0: absent); none
/// without either header.
caf::expected<std::optional<uint64_t>> precondition_of(const Request& req);

/// The token of `Authorization: Bearer <token>` (scheme in any case), else
/// of `?access_token=`; empty if neither.
std::string bearer_of(const Request& req);

} // namespace labrt::http
