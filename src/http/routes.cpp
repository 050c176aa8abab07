// The request/reply routes of the HTTP/JSON API over labrt's blocking client
// facades.
#include "labrt/errc.hpp"
#include "src/http/server_impl.hpp"

namespace labrt {

extern const char* const dashboard_html; // Generated from dashboard.html.

using namespace http;

namespace {

/// Labels a snapshot of a manager with the revision it had right before it
/// was read (the snapshot is at least that new), so that a page that
/// follows the events can tell it from an older one; false after a failure
/// reply.
bool set_revision(Response& res, manager_facade& manager) {
  auto metrics = manager.metrics();
  if (!metrics) {
    fail(res, metrics.error());
    return false;
  }
  res.set_header("X-Labrt-Revision", metrics->value("revision", json(0)).dump());
  return true;
}

} // namespace

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
          if (!set_revision(res, c))
            return;
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
          res.set_content(metrics.render()
                            + render_runtime_metrics(local(), streams.load()),
                          "text/plain; version=0.0.4");
        });
  add_test_routes();
  add_kv_routes();
  add_manager_routes();
  add_stream_routes();
}

void http_server::impl::add_test_routes() {
  route("GET", "/api/test/status", "/api/test/status",
        [this](const Request&, Response& res) {
          if (set_revision(res, local().tests()))
            reply(res, local().tests().get_state());
        });
  route("POST", "/api/test/start", "/api/test/start",
        [this](const Request&, std::string& body, Response& res) {
          if (auto spec = spec_of(body, res))
            reply(res, local().runner().start(std::move(*spec)), 201);
        });
  // `kill` is the old Flask app's name for stop.
  for (auto path : {"/api/test/stop", "/api/test/kill"})
    route("POST", path, path,
          [this](const Request&, std::string&, Response& res) {
            reply(res, local().runner().stop("", "request"));
          });
  route("POST", "/api/test/queue", "/api/test/queue",
        [this](const Request&, std::string& body, Response& res) {
          if (auto spec = spec_of(body, res))
            reply(res, local().runner().enqueue(std::move(*spec)), 201);
        });
  route("GET", "/api/test/queue", "/api/test/queue",
        [this](const Request&, Response& res) {
          reply(res, local().runner().queue());
        });
  route("DELETE", R"(/api/test/queue/([^/]+))", "/api/test/queue/{id}",
        [this](const Request& req, std::string&, Response& res) {
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

namespace {

/// A refused precondition is 412 and carries the current revision.
void fail_write(Response& res, const caf::error& err) {
  if (code_of(err) != errc::conflict)
    return fail(res, err);
  reply(res, 412,
        {{"error", message_of(err)},
         {"code", "precondition_failed"},
         {"revision", conflict_revision(err)}});
}

} // namespace

void http_server::impl::add_kv_routes() {
  // ?prefix=P: the entries of one namespace (keys that start with P).
  route("GET", "/api/kv", "/api/kv", [this](const Request& req, Response& res) {
    reply(res, req.has_param("prefix")
                 ? local().kv().snapshot(req.get_param_value("prefix"))
                 : local().kv().snapshot());
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
  // If-Match (an ETag or *) and If-None-Match: * make every write
  // conditional; the kv store checks and writes in one message.
  route("PUT", R"(/api/kv/(.+))", "/api/kv/{key}",
        [this](const Request& req, std::string& body, Response& res) {
          std::string key = req.matches[1];
          auto expected = precondition_of(req);
          if (!expected)
            return fail(res, expected.error());
          auto value = json_of(body, res);
          if (!value)
            return;
          auto& kv = local().kv();
          auto rev = *expected ? kv.set_if(key, std::move(*value), **expected)
                               : kv.set(key, std::move(*value));
          if (!rev)
            return fail_write(res, rev.error());
          res.set_header("ETag", etag_of(*rev));
          reply(res, 200, {{"key", key}, {"revision", *rev}});
        });
  route("DELETE", R"(/api/kv/(.+))", "/api/kv/{key}",
        [this](const Request& req, std::string&, Response& res) {
          std::string key = req.matches[1];
          auto expected = precondition_of(req);
          if (!expected)
            return fail(res, expected.error());
          auto& kv = local().kv();
          auto existed = *expected ? kv.erase_if(key, **expected)
                                   : kv.erase(key);
          if (!existed)
            return fail_write(res, existed.error());
          if (!*existed)
            return fail(res, 404, "not_found", "no key '" + key + "'");
          reply(res, 200, {{"key", key}, {"deleted", true}});
        });
  route("PATCH", R"(/api/kv/(.+))", "/api/kv/{key}",
        [this](const Request& req, std::string& body, Response& res) {
          std::string key = req.matches[1];
          auto type = media_type_of(req);
          if (type != "application/merge-patch+json"
              && type != "application/json-patch+json")
            return fail(res, 415, "unsupported_media_type",
                        "PATCH needs Content-Type application/merge-patch+json "
                        "or application/json-patch+json");
          auto expected = precondition_of(req);
          if (!expected)
            return fail(res, expected.error());
          auto doc = json_of(body, res);
          if (!doc)
            return;
          auto format = type == "application/merge-patch+json"
                          ? patch_format::merge_patch
                          : patch_format::json_patch;
          auto& kv = local().kv();
          auto entry
            = *expected
                ? kv.patch_if(key, std::move(*doc), format, **expected)
                : (format == patch_format::merge_patch
                     ? kv.merge_patch(key, std::move(*doc))
                     : kv.json_patch(key, std::move(*doc)));
          if (!entry)
            return fail_write(res, entry.error());
          res.set_header("ETag", etag_of(entry->revision));
          reply(res, 200, *entry);
        });
}

} // namespace labrt
