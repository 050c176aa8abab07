// The orchestrator's routes: every host's view, and the single-host test
// routes under /api/cluster/{host}/, sent on to that host's agent.
#include "src/http/server_impl.hpp"

namespace labrt {

using namespace http;

void http_server::impl::add_cluster_routes() {
  route("GET", "/api/cluster", "/api/cluster",
        [this](const Request&, Response& res) {
          reply(res, local().cluster().hosts());
        });
  const std::string on_host = R"(/api/cluster/([^/]+))";
  route("POST", on_host + "/test/start", "/api/cluster/{host}/test/start",
        [this](const Request& req, std::string& body, Response& res) {
          if (auto spec = spec_of(body, res))
            reply(res, local().cluster().start(req.matches[1], std::move(*spec)),
                  201);
        });
  for (auto verb : {"stop", "kill"})
    route("POST", on_host + "/test/" + verb,
          std::string{"/api/cluster/{host}/test/"} + verb,
          [this](const Request& req, std::string&, Response& res) {
            reply(res, local().cluster().stop(req.matches[1], "", "request"));
          });
  route("POST", on_host + "/test/queue", "/api/cluster/{host}/test/queue",
        [this](const Request& req, std::string& body, Response& res) {
          if (auto spec = spec_of(body, res))
            reply(res,
                  local().cluster().enqueue(req.matches[1], std::move(*spec)),
                  201);
        });
  route("GET", on_host + "/test/queue", "/api/cluster/{host}/test/queue",
        [this](const Request& req, Response& res) {
          reply(res, local().cluster().queue(req.matches[1]));
        });
  route("DELETE", on_host + "/test/queue/([^/]+)",
        "/api/cluster/{host}/test/queue/{id}",
        [this](const Request& req, std::string&, Response& res) {
          reply(res, local().cluster().cancel(req.matches[1], req.matches[2]));
        });
  route("GET", on_host + "/test/runs/([^/]+)", "/api/cluster/{host}/test/runs/{id}",
        [this](const Request& req, Response& res) {
          reply(res, local().cluster().run(req.matches[1], req.matches[2]));
        });
  // The log is read on the host a chunk at a time; the host's events come
  // here too, so a follow wakes as on the host itself.
  route("GET", on_host + "/test/logs", "/api/cluster/{host}/test/logs",
        [this](const Request& req, Response& res) {
          serve_log(req, res,
                    [this, host = std::string{req.matches[1]},
                     id = req.get_param_value("run")](
                      uint64_t offset) mutable {
                      auto chunk = local().cluster().read_log(host, id, offset);
                      // "" (the current or last run) names one run from now on.
                      if (chunk)
                        id = chunk->run.run_id;
                      return chunk;
                    });
        });
  route("GET", on_host + "/history", "/api/cluster/{host}/history",
        [this](const Request& req, Response& res) {
          auto query = history_query_of(req);
          if (!query)
            return fail(res, query.error());
          reply(res, local().cluster().history(req.matches[1], *query));
        });
}

} // namespace labrt
