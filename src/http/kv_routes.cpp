// The kv routes: this runtime's store under /api/kv, and, on an
// orchestrator, each host's under /api/cluster/{host}/kv, with the same
// meaning (ETag, If-Match, If-None-Match).
#include <string>

#include "labrt/errc.hpp"
#include "src/http/server_impl.hpp"

namespace labrt {

using namespace http;

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

template <class KvOf>
void http_server::impl::add_kv_routes_at(const std::string& base,
                                         const std::string& label,
                                         KvOf kv_of) {
  // The key is the last group of a match; a host, if any, the first.
  auto key_of = [](const Request& req) {
    return std::string{req.matches[req.matches.size() - 1]};
  };
  // ?prefix=P: the entries of one namespace (keys that start with P).
  route("GET", base, label, [kv_of](const Request& req, Response& res) {
    reply(res, kv_of(req).snapshot(req.get_param_value("prefix")));
  });
  route("GET", base + "/(.+)", label + "/{key}",
        [kv_of, key_of](const Request& req, Response& res) {
          auto key = key_of(req);
          auto entry = kv_of(req).fetch(key);
          if (!entry)
            return fail(res, entry.error());
          if (!entry->exists)
            return fail(res, 404, "not_found", "no key '" + key + "'");
          res.set_header("ETag", etag_of(entry->revision));
          reply(res, 200, *entry);
        });
  // If-Match (an ETag or *) and If-None-Match: * make every write
  // conditional; the kv store checks and writes in one message.
  route("PUT", base + "/(.+)", label + "/{key}",
        [kv_of, key_of](const Request& req, std::string& body,
                        Response& res) {
          auto key = key_of(req);
          auto expected = precondition_of(req);
          if (!expected)
            return fail(res, expected.error());
          auto value = json_of(body, res);
          if (!value)
            return;
          auto&& kv = kv_of(req);
          auto rev = *expected ? kv.set_if(key, std::move(*value), **expected)
                               : kv.set(key, std::move(*value));
          if (!rev)
            return fail_write(res, rev.error());
          res.set_header("ETag", etag_of(*rev));
          reply(res, 200, {{"key", key}, {"revision", *rev}});
        });
  route("DELETE", base + "/(.+)", label + "/{key}",
        [kv_of, key_of](const Request& req, std::string&, Response& res) {
          auto key = key_of(req);
          auto expected = precondition_of(req);
          if (!expected)
            return fail(res, expected.error());
          auto&& kv = kv_of(req);
          auto existed = *expected ? kv.erase_if(key, **expected)
                                   : kv.erase(key);
          if (!existed)
            return fail_write(res, existed.error());
          if (!*existed)
            return fail(res, 404, "not_found", "no key '" + key + "'");
          reply(res, 200, {{"key", key}, {"deleted", true}});
        });
}

void http_server::impl::add_kv_routes() {
  add_kv_routes_at("/api/kv", "/api/kv",
                   [this](const Request&) -> kv_facade& { return local().kv(); });
  add_kv_routes_at(R"(/api/cluster/([^/]+)/kv)", "/api/cluster/{host}/kv",
                   [this](const Request& req) {
                     return local().cluster().kv(req.matches[1]);
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
