// The daemon's listening socket, which labrt binds itself: httplib would
// share a busy port.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "labrt/errc.hpp"
#include "src/http/server_impl.hpp"

namespace labrt {

namespace {

caf::error listen_error(const std::string& where, int err) {
  if (err == EADDRINUSE)
    return make_error(errc::system_error,
                      "cannot listen on " + where
                        + ": address in use (another server listens there)");
  if (err == EADDRNOTAVAIL)
    return make_error(errc::system_error,
                      "cannot listen on " + where
                        + ": not an address of this machine");
  return make_error(errc::system_error, "cannot listen on " + where + ": "
                                          + std::strerror(err));
}

/// The port of an IPv4 or IPv6 socket address, 0 for another family.
uint16_t port_of(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  return 0;
}

} // namespace

/// HOST:PORT as parse_listen reads it: an IPv6 host in brackets.
std::string host_port(const std::string& host, int port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":"
    + std::to_string(port);
}

bool is_loopback(const std::string& host) {
  // Addresses by value: a name like "127.lab.example" may resolve anywhere.
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6);
  return host == "localhost";
}

// -- the listening socket ----------------------------------------------------

http_listener::~http_listener() {
  // httplib closes the socket only when it has listened on it.
  auto fd = svr_sock_.exchange(INVALID_SOCKET);
  if (!started_ && fd != INVALID_SOCKET)
    ::close(fd);
}

caf::expected<int> listen_on(const std::string& host, int port) {
  auto where = host_port(host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (auto rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found))
    return make_error(errc::invalid_argument, "cannot listen on " + where
                                                + ": " + ::gai_strerror(rc));
  int first_error = 0;
  int fd = -1;
  for (auto* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                  ai->ai_protocol);
    if (fd < 0) {
      first_error = first_error != 0 ? first_error : errno;
      continue;
    }
    int yes = 1;
    // SO_REUSEADDR only rebinds a port whose old connections linger in
    // TIME_WAIT; a live listener still makes bind fail.
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    // Accepted sockets inherit it: without it, Nagle and delayed ACKs hold
    // back every reply to a keep-alive client.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    // httplib 0.11 listens with a backlog of 5: a burst of 20 clients
    // overflowed it and saw resets.
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0
        || ::listen(fd, SOMAXCONN) != 0) {
      first_error = first_error != 0 ? first_error : errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0)
    return listen_error(where, first_error);
  return fd;
}

void http_listener::adopt(int fd) {
  socklen_t len = sizeof bound_;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound_), &len) != 0)
    bound_ = {};
  svr_sock_ = fd;
}

uint16_t http_listener::port() const noexcept {
  return port_of(bound_);
}

void http_listener::stop() {
  auto fd = svr_sock_.exchange(INVALID_SOCKET);
  if (fd != INVALID_SOCKET) {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }
}

} // namespace labrt
