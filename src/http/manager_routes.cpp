// Routes that give remote clients the old managers' writes, so that every
// worker process of a web app shares one state: the flat service-status
// entries, the test-status record with its start/stop/reset and a wait for
// the slot to be free, and kv namespaces (keys under a prefix, several
// keys set at once).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "labrt/errc.hpp"
#include "labrt/event_stream.hpp"
#include "src/http/server_impl.hpp"

namespace labrt {

using namespace http;

namespace {

/// Longest a request may wait for the slot: it holds a worker thread.
constexpr uint64_t max_wait_ms = 60 * 1000;

/// `prefix` of `GET|DELETE /api/kv?prefix=P`: present and not empty.
std::optional<std::string> prefix_of(const Request& req, Response& res) {
  auto prefix = req.get_param_value("prefix");
  if (prefix.empty()) {
    fail(res, 400, "invalid_argument",
         "prefix must name a namespace, e.g. ?prefix=sessions/");
    return std::nullopt;
  }
  return prefix;
}

} // namespace

void http_server::impl::add_manager_routes() {
  route("GET", "/api/status", "/api/status",
        [this](const Request&, Response& res) {
          reply(res, local().services().get_all_status());
        });
  route("GET", R"(/api/status/(.+))", "/api/status/{entry}",
        [this](const Request& req, Response& res) {
          reply(res, local().services().get_status(req.matches[1]));
        });
  route("PUT", R"(/api/status/(.+))", "/api/status/{entry}",
        [this](const Request& req, std::string& body, Response& res) {
          std::string entry = req.matches[1];
          auto value = json_of(body, res);
          if (!value)
            return;
          auto rev = local().services().set_status(entry, std::move(*value));
          if (!rev)
            return fail(res, rev.error());
          reply(res, 200, {{"entry", entry}, {"revision", *rev}});
        });
  route("PATCH", "/api/status", "/api/status",
        [this](const Request&, std::string& body, Response& res) {
          auto entries = object_of(body, res);
          if (!entries)
            return;
          auto rev = local().services().update_status(std::move(*entries));
          if (!rev)
            return fail(res, rev.error());
          reply(res, 200, {{"revision", *rev}});
        });
  route("PATCH", "/api/test/status", "/api/test/status",
        [this](const Request&, std::string& body, Response& res) {
          if (auto fields = object_of(body, res))
            reply(res, local().tests().update_state(std::move(*fields)));
        });
  route("POST", "/api/test/status/start", "/api/test/status/start",
        [this](const Request&, std::string& body, Response& res) {
          auto fields = object_of(body, res);
          if (!fields)
            return;
          auto script = fields->value("script", json{});
          if (!script.is_string())
            return fail(res, 400, "invalid_argument",
                        "script must be a string");
          auto pid = fields->value("pid", json{});
          fields->erase("script");
          fields->erase("pid");
          reply(res, local().tests().start_test(script.get<std::string>(),
                                                std::move(pid),
                                                std::move(*fields)));
        });
  // Waits until no test runs, or wait_ms, and answers the state either way.
  // It only waits: a start that then comes second is refused as usual, so a
  // client that has gone away never takes the slot (a start that waited in
  // the server would, for nobody).
  route("GET", "/api/test/status/idle", "/api/test/status/idle",
        [this](const Request& req, Response& res) {
          auto wait_ms = number_param(req, "wait_ms", max_wait_ms);
          if (!wait_ms)
            return fail(res, wait_ms.error());
          // It holds a worker thread as long as a stream: it counts as one.
          if (!open_stream(res))
            return;
          struct held_stream {
            std::atomic<size_t>& open;
            ~held_stream() {
              open.fetch_sub(1);
            }
          } held{streams};
          auto until = std::chrono::steady_clock::now()
                       + std::chrono::milliseconds{*wait_ms};
          // Following the events first: no stop falls between a check and
          // the wait for the next one.
          auto changes = event_stream::open(rt, events_from_now);
          if (!changes)
            return fail(res, changes.error());
          for (;;) {
            auto state = local().tests().get_state();
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
              until - std::chrono::steady_clock::now());
            // A stopping server answers now rather than hold its stop.
            if (!state || !state->value("running", false)
                || left.count() <= 0 || svr.stopping())
              return reply(res, state);
            auto slice = std::min(left, std::chrono::milliseconds{200});
            if (auto batch = changes->next(slice); !batch)
              return fail(res, batch.error());
          }
        });
  route("POST", "/api/test/status/stop", "/api/test/status/stop",
        [this](const Request&, std::string&, Response& res) {
          reply(res, local().tests().stop_test());
        });
  route("POST", "/api/test/status/reset", "/api/test/status/reset",
        [this](const Request&, std::string&, Response& res) {
          reply(res, local().tests().reset());
        });
  // Several keys in one message: readers see all of them or none.
  route("PATCH", "/api/kv", "/api/kv",
        [this](const Request&, std::string& body, Response& res) {
          auto items = object_of(body, res);
          if (!items)
            return;
          auto rev = local().kv().update(std::move(*items));
          if (!rev)
            return fail(res, rev.error());
          reply(res, 200, {{"revision", *rev}});
        });
  route("DELETE", "/api/kv", "/api/kv",
        [this](const Request& req, std::string&, Response& res) {
          auto prefix = prefix_of(req, res);
          if (!prefix)
            return;
          auto rev = local().kv().clear(*prefix);
          if (!rev)
            return fail(res, rev.error());
          reply(res, 200, {{"prefix", *prefix}, {"revision", *rev}});
        });
}

} // namespace labrt
