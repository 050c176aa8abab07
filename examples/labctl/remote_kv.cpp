// `labctl kv get|set|patch|rm|list`: the daemon's kv store.
#include <cctype>
#include <cstdio>
#include <iostream>

#include "remote.hpp"

namespace labctl {

namespace {

using labrt::json;

/// Keys go into the path, '/' as it is (the server decodes the path before
/// matching /api/kv/(.+)); with --host, that host's store.
std::string key_path(const client_options& opt, const std::string& key) {
  return on_host(opt, "/api/kv/" + url_encode(key, true));
}

/// KEY and JSON arguments of one kv command.
struct kv_args {
  std::string key;
  std::string text;
  int64_t if_rev = -1;
  bool json_patch = false;
};

/// The JSON argument; nullopt after saying why it is not JSON.
std::optional<json> value_of(const std::string& text) {
  auto value = json::parse(text, nullptr, false);
  if (!value.is_discarded())
    return value;
  std::cerr << "labctl: '" << text
            << "' is not JSON (a string needs quotes: '\"" << text
            << "\"')\n";
  return std::nullopt;
}

void print_revision(const json& body) {
  std::cout << cell(body.value("key", json{})) << " at revision "
            << cell(body.value("revision", json{})) << "\n";
}

void print_value(const json& entry) {
  std::cout << entry.value("value", json{}).dump(2) << "\n";
}

} // namespace

void add_kv_commands(CLI::App& app, const client_ptr& opt, int& exit_code) {
  auto kv = app.add_subcommand("kv", "The daemon's kv store");
  kv->require_subcommand(1);
  auto a = std::make_shared<kv_args>();
  auto add = [&](const std::string& name, const std::string& help,
                 std::function<int(api_client&)> fn) {
    auto cmd = kv->add_subcommand(name, help);
    // An orchestrator sends all but a patch on to --host.
    cmd->callback([opt, fn, &exit_code, routable = name != "patch"] {
      exit_code = call(*opt, fn, routable);
    });
    if (name != "list")
      cmd->add_option("key", a->key, "The key")->required();
    return cmd;
  };
  add("get", "A key's value (--json: with its revision)",
      [opt, a](api_client& api) {
        return show(api.get(key_path(*opt, a->key)), *opt, print_value);
      });
  auto set = add("set", "Set a key to a JSON value", [opt, a](api_client& api) {
    auto value = value_of(a->text);
    if (!value)
      return int{exit_usage};
    auto rev = a->if_rev >= 0 ? std::optional<uint64_t>(a->if_rev)
                              : std::nullopt;
    return show(api.put(key_path(*opt, a->key), *value, rev), *opt, print_revision);
  });
  set->add_option("json", a->text, "The value as JSON, e.g. '{\"a\": 1}'")
    ->required();
  set->add_option("--if-rev", a->if_rev,
                  "Only if the key is at revision N (0: only if absent)")
    ->check(CLI::NonNegativeNumber);
  auto patch = add("patch", "Patch a key: JSON Merge Patch, or --json-patch",
                   [opt, a](api_client& api) {
                     auto doc = value_of(a->text);
                     if (!doc)
                       return int{exit_usage};
                     auto type = a->json_patch ? "application/json-patch+json"
                                               : "application/merge-patch+json";
                     return show(api.patch(key_path(*opt, a->key), *doc, type), *opt,
                                 print_value);
                   });
  patch->add_option("json", a->text, "The patch document")->required();
  patch->add_flag("--json-patch", a->json_patch,
                  "An RFC 6902 operation list instead of a merge patch");
  add("rm", "Delete a key", [opt, a](api_client& api) {
    return show(api.del(key_path(*opt, a->key)), *opt, [](const json& body) {
      std::cout << "deleted " << cell(body.value("key", json{})) << "\n";
    });
  });
  add("list", "Every key with its revision and value",
      [opt](api_client& api) {
        return show(api.get(on_host(*opt, "/api/kv")), *opt,
                    [](const json& snap) {
          std::vector<std::vector<std::string>> rows;
          for (auto& e : snap.value("entries", json::array()))
            rows.push_back({cell(e.value("key", json{})),
                            cell(e.value("revision", json{})),
                            cell(e.value("value", json{}))});
          print_table({"KEY", "REV", "VALUE"}, rows);
        });
      });
}

} // namespace labctl
