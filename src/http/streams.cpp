// The streaming routes of the HTTP API: Server-Sent Events and log tails.
#include <fstream>

#include "labrt/errc.hpp"
#include "labrt/event_stream.hpp"
#include "labrt/sse.hpp"
#include "src/http/server_impl.hpp"

namespace labrt {

using namespace http;
using namespace std::chrono_literals;

namespace {

bool ended(run_state s) {
  return s == run_state::finished || s == run_state::failed
         || s == run_state::cancelled || s == run_state::lost;
}

} // namespace

void http_server::impl::add_stream_routes() {
  // Server-Sent Events: `id` is the hub's event id, so a client that
  // reconnects with Last-Event-ID gets what it missed, if still held.
  route("GET", "/api/events", "/api/events",
        [this](const Request& req, Response& res) {
          uint64_t after = 0;
          auto last = req.has_header("Last-Event-ID")
                        ? req.get_header_value("Last-Event-ID")
                        : req.get_param_value("after");
          if (!last.empty()) {
            auto id = revision_of(last);
            if (!id)
              return fail(res, 400, "invalid_argument",
                          "Last-Event-ID must be an event id");
            after = *id;
          }
          auto stream = event_stream::open(rt, after);
          if (!stream)
            return fail(res, stream.error());
          if (!open_stream(res))
            return;
          auto st = std::make_shared<event_stream>(std::move(*stream));
          auto idle = std::make_shared<std::chrono::steady_clock::time_point>(
            std::chrono::steady_clock::now());
          res.set_header("Cache-Control", "no-cache");
          bool from_now = after == events_from_now;
          res.set_chunked_content_provider(
            "text/event-stream",
            [st, idle, from_now, first = std::make_shared<bool>(true)](
              size_t, httplib::DataSink& sink) {
              std::string out;
              if (*first) {
                // Sends the headers at once and sets the reconnect delay. A
                // client "from now" learns where now is, so that it resumes
                // from there even if no event comes before a restart.
                *first = false;
                out = "retry: 1000\n";
                if (from_now)
                  out += "id: " + std::to_string(st->start()) + '\n';
                out += '\n';
                return sink.write(out.data(), out.size());
              }
              // Short waits, so that a stopping server is noticed quickly.
              auto batch = st->next(500ms);
              if (!batch) {
                sink.done();
                return true;
              }
              if (batch->missed > 0)
                out += sse::format(
                  {0, "missed",
                   "{\"missed\":" + std::to_string(batch->missed) + "}"});
              for (auto& ev : batch->events)
                out += sse::format(ev);
              auto now = std::chrono::steady_clock::now();
              if (out.empty() && now - *idle > 15s)
                out = ": keep-alive\n\n"; // Finds closed connections too.
              if (out.empty())
                return true;
              *idle = now;
              return sink.write(out.data(), out.size());
            },
            [this](bool) { streams.fetch_sub(1); });
        });
  // A run's log file; with follow=1 a live tail until the run has ended.
  route("GET", "/api/test/logs", "/api/test/logs",
        [this](const Request& req, Response& res) {
          auto& runner = local().runner();
          caf::expected<run_record> rec{run_record{}};
          if (req.has_param("run")) {
            rec = runner.get(req.get_param_value("run"));
          } else {
            rec = runner.status();
            if (!rec && code_of(rec.error()) == errc::not_running) {
              auto last = runner.history(1);
              if (last && last->empty())
                return fail(res, 404, "not_found", "no run yet");
              if (last)
                rec = last->front();
            }
          }
          if (!rec)
            return fail(res, rec.error());
          if (rec->log.empty())
            return fail(res, 404, "not_found",
                        "run " + rec->run_id + " has no log file");
          auto file = std::make_shared<std::ifstream>(rec->log,
                                                      std::ios::binary);
          if (!*file)
            return fail(res, 404, "not_found",
                        "cannot read the log of run " + rec->run_id);
          bool follow = req.get_param_value("follow") == "1"
                        && !ended(rec->state);
          std::shared_ptr<event_stream> wake;
          if (follow) {
            // Wakes the tail when anything happens instead of polling.
            auto stream = event_stream::open(rt, events_from_now);
            if (!stream)
              return fail(res, stream.error());
            if (!open_stream(res))
              return;
            wake = std::make_shared<event_stream>(std::move(*stream));
          }
          res.set_header("X-Run-Id", rec->run_id);
          res.set_header("Cache-Control", "no-cache");
          auto id = rec->run_id;
          res.set_chunked_content_provider(
            "text/plain; charset=utf-8",
            [this, file, wake, id, done = false](
              size_t, httplib::DataSink& sink) mutable {
              char buf[64 * 1024];
              file->read(buf, sizeof buf);
              auto n = static_cast<size_t>(file->gcount());
              if (n > 0)
                return sink.write(buf, n);
              file->clear(); // EOF for now; the run may write more.
              if (!wake || done) {
                sink.done();
                return true;
              }
              auto latest = local().runner().get(id);
              if (!latest || ended(latest->state)) {
                done = true; // One more read drains what was written last.
                return true;
              }
              auto batch = wake->next(500ms);
              if (!batch)
                done = true;
              return true;
            },
            [this, follow](bool) {
              if (follow)
                streams.fetch_sub(1);
            });
        });
}

} // namespace labrt
