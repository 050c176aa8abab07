// The `cluster` config section: where the agent listens, which agents to
// follow, the secret both ends share and the TLS files.
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "src/config_check.hpp"
#include "labrt/errc.hpp"

namespace labrt {

namespace {

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1")
    return true;
  in_addr addr{};
  return inet_pton(AF_INET, host.c_str(), &addr) == 1
         && (ntohl(addr.s_addr) >> 24) == 127;
}

/// The secret without its trailing newline. A file others may read is no
/// secret, so it is refused rather than used.
caf::expected<std::string> read_secret(const std::string& path) {
  const std::string field = "cluster.secret_file";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return config_error(field, "'" + path + "' cannot be read: "
                                 + std::strerror(errno));
  struct stat st{};
  std::string text;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= 4096) {
    text.resize(static_cast<size_t>(st.st_size));
    auto n = ::read(fd, text.data(), text.size());
    text.resize(n < 0 ? 0 : static_cast<size_t>(n));
  }
  ::close(fd);
  if (!S_ISREG(st.st_mode) || st.st_size > 4096)
    return config_error(field, "'" + path + "' must be a file of at most "
                                            "4096 bytes");
  if ((st.st_mode & 077) != 0)
    return config_error(field, "'" + path + "' may be read by other users: "
                                            "chmod 600 it");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  if (text.size() < cluster_config::min_secret_bytes)
    return config_error(field, "'" + path + "' must hold at least "
                                 + std::to_string(
                                   cluster_config::min_secret_bytes)
                                 + " characters");
  return text;
}

caf::error parse_peers(const json& value, cluster_config& cfg) {
  const std::string field = "cluster.peers";
  if (!value.is_array())
    return config_error(field, "must be an array of {\"name\", \"address\"}");
  std::set<std::string> names;
  for (size_t i = 0; i < value.size(); ++i) {
    auto at = field + "[" + std::to_string(i) + "]";
    cluster_peer peer;
    std::string address;
    config_section s{at, value[i]};
    s.text("name", peer.name).text("address", address);
    if (auto err = s.finish())
      return err;
    if (peer.name.empty() || peer.name.size() > 64
        || peer.name.find_first_of("/ \t\r\n") != std::string::npos)
      return config_error(at + ".name", "must be 1 to 64 characters without "
                                        "'/' or spaces");
    if (!names.insert(peer.name).second)
      return config_error(at + ".name", "'" + peer.name + "' is used twice");
    auto where = parse_host_port(address, at + ".address");
    if (!where)
      return std::move(where.error());
    if (where->port == 0)
      return config_error(at + ".address", "needs a port other than 0");
    peer.host = where->host;
    peer.port = where->port;
    cfg.peers.push_back(std::move(peer));
  }
  return caf::none;
}

caf::error parse_tls(const json& value, const std::string& base_dir,
                     cluster_tls& tls) {
  config_section s{"cluster.tls", value};
  s.text("ca", tls.ca).text("cert", tls.cert).text("key", tls.key);
  if (auto err = s.finish())
    return err;
  for (auto [name, path] : {std::pair{"ca", &tls.ca}, {"cert", &tls.cert},
                            {"key", &tls.key}}) {
    if (path->empty())
      return config_error(std::string{"cluster.tls."} + name,
                          "is required: TLS needs the trusted CA, this "
                          "runtime's certificate and its key (PEM files)");
    *path = absolute_from(*path, base_dir);
  }
  return caf::none;
}

} // namespace

caf::error parse_cluster(const json& section, const std::string& base_dir,
                         cluster_config& cfg) {
  std::string publish;
  std::string secret_file;
  int64_t timeout_ms = cfg.request_timeout.count();
  config_section s{"cluster", section};
  s.text("publish", publish)
    .text("secret_file", secret_file)
    .integer("request_timeout_ms", timeout_ms, 10, 600'000, "milliseconds")
    .field("peers", [&](const json& value, const std::string&) {
      return parse_peers(value, cfg);
    })
    .field("tls", [&](const json& value, const std::string&) {
      return parse_tls(value, base_dir, cfg.tls);
    });
  if (auto err = s.finish())
    return err;
  cfg.request_timeout = std::chrono::milliseconds{timeout_ms};
  if (!publish.empty()) {
    auto where = parse_host_port(publish, "cluster.publish");
    if (!where)
      return std::move(where.error());
    if (!is_loopback(where->host) && !cfg.tls.enabled())
      return config_error("cluster.publish",
                          "'" + publish + "' is reachable from other hosts: "
                          "that needs cluster.tls (docs/cluster.md)");
    cfg.publish_host = where->host;
    cfg.publish_port = where->port;
  }
  if (!cfg.enabled())
    return caf::none;
  // One CAF system has one certificate and one trusted CA, and the roles
  // need different ones.
  if (cfg.tls.enabled() && !cfg.publish_host.empty() && !cfg.peers.empty())
    return config_error("cluster.tls", "serves one role: a runtime with TLS "
                                       "either publishes or has peers");
  if (secret_file.empty() && cfg.tls.enabled())
    return caf::none;
  if (secret_file.empty())
    return config_error("cluster.secret_file",
                        "is required without cluster.tls: the file (mode "
                        "0600) with the secret that agents and orchestrators "
                        "share");
  auto secret = read_secret(absolute_from(secret_file, base_dir));
  if (!secret)
    return std::move(secret.error());
  cfg.secret = std::move(*secret);
  return caf::none;
}

} // namespace labrt
