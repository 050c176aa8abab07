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

} // namespace labrt
