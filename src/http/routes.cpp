// The request/reply routes of the HTTP/JSON API over labrt's blocking client
// facades.
#include <algorithm>
#include <string>

#include "labrt/errc.hpp"
#include "src/http/server_impl.hpp"

namespace labrt {

extern const char* const dashboard_html; // Generated from dashboard.{html,js}.

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

/// A time of ?since= or ?until=: what to_iso8601 writes, seconds without
/// a fraction, or a day (its midnight, UTC).
caf::expected<caf::timestamp> time_param(const Request& req, const char* key) {
  auto text = req.get_param_value(key);
  if (text.empty())
    return caf::timestamp{};
  auto full = text;
  if (full.size() == 10)
    full += "T00:00:00Z";
  auto t = from_iso8601(full);
  if (t.time_since_epoch().count() == 0)
    return make_error(errc::invalid_argument,
                      std::string{key} + " must be an ISO 8601 time such as "
                        "2026-12-01T10:00:00Z or a day such as 2026-12-01, "
                        "not '" + text + "'");
  return t;
}

} // namespace

caf::expected<history_query> history_query_of(const Request& req) {
  history_query q;
  auto limit = number_param(req, "limit", 999999, q.limit);
  if (!limit)
    return std::move(limit.error());
  q.limit = *limit;
  q.script = req.get_param_value("script");
  q.outcome = req.get_param_value("outcome");
  auto& outcomes = run_outcomes();
  if (!q.outcome.empty()
      && std::find(outcomes.begin(), outcomes.end(), q.outcome)
           == outcomes.end())
    return make_error(errc::invalid_argument,
                      "outcome must be one of " + json(outcomes).dump());
  // Forms and urlencode() send a space as '+', which httplib leaves as is.
  q.text = req.get_param_value("q");
  std::replace(q.text.begin(), q.text.end(), '+', ' ');
  q.before = req.get_param_value("before");
  auto since = time_param(req, "since");
  if (!since)
    return std::move(since.error());
  auto until = time_param(req, "until");
  if (!until)
    return std::move(until.error());
  q.since = *since;
  q.until = *until;
  return q;
}

void http_server::impl::add_routes() {
  route("GET", "/healthz", "/healthz", [this](const Request&, Response& res) {
    // Still 200 when degraded: the daemon lives, and a restart would not
    // mend the disk.
    json body{{"status", "ok"}, {"name", name}};
    auto storage = local().storage();
    if (!storage)
      storage = json{{"state", "degraded"}, {"error", render(storage.error())}};
    if (storage->value("state", "") == "degraded")
      body["status"] = "degraded";
    body["storage"] = std::move(*storage);
    reply(res, 200, body);
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
  add_cluster_routes();
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
          auto query = history_query_of(req);
          if (!query)
            return fail(res, query.error());
          reply(res, local().runner().history(*query));
        });
  route("GET", R"(/api/history/([^/]+))", "/api/history/{run_id}",
        [this](const Request& req, Response& res) {
          reply(res, local().runner().get(req.matches[1]));
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
