// The streaming routes of the HTTP API: Server-Sent Events and log tails.
#include <optional>

#include "labrt/errc.hpp"
#include "labrt/event_stream.hpp"
#include "labrt/sse.hpp"
#include "src/log_read.hpp"
#include "src/http/server_impl.hpp"

namespace labrt {

using namespace http;
using namespace std::chrono_literals;

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
          // The first read uses the record just found; later ones ask
          // the runner how the run is now.
          auto id = rec->run_id;
          serve_log(req, res,
                    [this, id, first = std::make_optional(std::move(*rec))](
                      uint64_t offset) mutable -> caf::expected<log_chunk> {
                      auto now = first ? caf::expected<run_record>{*first}
                                       : local().runner().get(id);
                      first.reset();
                      if (!now)
                        return std::move(now.error());
                      return read_log_chunk(std::move(*now), offset,
                                            log_chunk_max);
                    });
        });
}

void http_server::impl::serve_log(const Request& req, Response& res,
                                  log_source read) {
  auto first = read(0);
  if (!first)
    return fail(res, first.error());
  std::shared_ptr<event_stream> wake;
  if (req.get_param_value("follow") == "1" && !has_ended(first->run.state)) {
    // Wakes the tail when anything happens instead of polling.
    auto stream = event_stream::open(rt, events_from_now);
    if (!stream)
      return fail(res, stream.error());
    if (!open_stream(res))
      return;
    wake = std::make_shared<event_stream>(std::move(*stream));
  }
  res.set_header("X-Run-Id", first->run.run_id);
  res.set_header("Cache-Control", "no-cache");
  bool follow = wake != nullptr;
  res.set_chunked_content_provider(
    "text/plain; charset=utf-8",
    [read = std::move(read), wake, last = std::move(*first)](
      size_t, httplib::DataSink& sink) mutable {
      if (!last.data.empty()) {
        if (!sink.write(last.data.data(), last.data.size()))
          return false;
      } else if (!wake || has_ended(last.run.state) || !wake->next(500ms)) {
        // Nothing new from a run that had ended before that read (or the
        // server stops): that was all.
        sink.done();
        return true;
      }
      auto next = read(last.offset + last.data.size());
      if (!next) {
        sink.done(); // The headers are out: the log just ends.
        return true;
      }
      last = std::move(*next);
      return true;
    },
    [this, follow](bool) {
      if (follow)
        streams.fetch_sub(1);
    });
}

} // namespace labrt
