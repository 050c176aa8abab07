// TLS under CAF's BASP: a stream policy over an OpenSSL session, the scribe
// and doorman that use it, and the middleman actor that makes them. Shaped
// after CAF 0.17's libcaf_openssl; what differs is said where it does.
#include "actors/tls_transport.hpp"

#include <signal.h>

#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/detail/socket_guard.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/interfaces.hpp>
#include <caf/io/network/stream_impl.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "labrt/errc.hpp"

namespace labrt {

namespace {

namespace net = caf::io::network;
using net::native_socket;
using net::rw_state;

using ctx_ptr = std::shared_ptr<SSL_CTX>;

/// OpenSSL writes to the socket itself: a peer that closed must not raise
/// SIGPIPE in an embedder that did not ignore it. A pending one is taken.
struct sigpipe_blocked {
  sigset_t pipe;
  sigset_t saved;
  sigpipe_blocked() {
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &saved);
  }
  ~sigpipe_blocked() {
    timespec now{};
    sigtimedwait(&pipe, nullptr, &now);
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  }
  sigpipe_blocked(const sigpipe_blocked&) = delete;
  sigpipe_blocked& operator=(const sigpipe_blocked&) = delete;
};

using ssl_ptr = std::unique_ptr<SSL, decltype(&SSL_free)>;

/// A TLS session on `fd` (it holds its own reference to `ctx`); null when
/// out of memory.
ssl_ptr new_ssl(SSL_CTX* ctx, native_socket fd, bool accepting) {
  ssl_ptr ssl{SSL_new(ctx), SSL_free};
  if (!ssl)
    return ssl;
  SSL_set_fd(ssl.get(), fd);
  if (accepting)
    SSL_set_accept_state(ssl.get());
  else
    SSL_set_connect_state(ssl.get());
  return ssl;
}

/// One connection's TLS, as the stream policy CAF's stream_impl calls. Every
/// call clears the thread's error queue first and after a failure:
/// SSL_get_error reads that queue, and the multiplexer thread serves every
/// connection.
class tls_session {
public:
  explicit tls_session(ssl_ptr ssl) : ssl_(std::move(ssl)) {
  }

  rw_state read_some(size_t& result, native_socket, void* buf, size_t len) {
    return transfer(result, len, false, [&] {
      return SSL_read(ssl_.get(), buf, static_cast<int>(len));
    });
  }

  rw_state write_some(size_t& result, native_socket, const void* buf,
                      size_t len) {
    return transfer(result, len, true, [&] {
      return SSL_write(ssl_.get(), buf, static_cast<int>(len));
    });
  }

  bool must_read_more(native_socket, size_t threshold) {
    return static_cast<size_t>(SSL_pending(ssl_.get())) >= threshold;
  }

private:
  /// What a call's result means for CAF's stream: success also when OpenSSL
  /// waits for the socket (the stream polls again), failure ends the
  /// connection.
  rw_state outcome(int ret, size_t len, bool writing) {
    switch (SSL_get_error(ssl_.get(), ret)) {
      case SSL_ERROR_WANT_READ:
        // A handshake write with nothing to write: stop polling for writes
        // until there is data, as CAF does.
        return len == 0 && writing ? rw_state::indeterminate
                                   : rw_state::success;
      case SSL_ERROR_WANT_WRITE:
        return rw_state::success;
      default:
        ERR_clear_error();
        return rw_state::failure;
    }
  }

  template <class Call>
  rw_state transfer(size_t& result, size_t len, bool writing, Call call) {
    sigpipe_blocked guard;
    result = 0;
    if (!SSL_is_init_finished(ssl_.get())) {
      ERR_clear_error();
      auto ret = SSL_do_handshake(ssl_.get());
      if (ret != 1)
        return outcome(ret, len, writing);
    }
    if (len == 0)
      return rw_state::indeterminate;
    ERR_clear_error();
    auto ret = call();
    if (ret > 0) {
      result = static_cast<size_t>(ret);
      return rw_state::success;
    }
    return outcome(ret, len, writing);
  }

  ssl_ptr ssl_;
};

net::default_multiplexer& mpx_of(caf::actor_system& sys) {
  return static_cast<net::default_multiplexer&>(sys.middleman().backend());
}

class tls_scribe : public caf::io::scribe {
public:
  tls_scribe(net::default_multiplexer& mpx, native_socket fd, ssl_ptr ssl)
    : scribe(net::conn_hdl_from_socket(fd)), stream_(mpx, fd, std::move(ssl)) {
  }

  void configure_read(caf::io::receive_policy::config config) override {
    stream_.configure_read(config);
    if (!launched_)
      launch();
  }
  void ack_writes(bool enable) override {
    stream_.ack_writes(enable);
  }
  std::vector<char>& wr_buf() override {
    return stream_.wr_buf();
  }
  std::vector<char>& rd_buf() override {
    return stream_.rd_buf();
  }
  void graceful_shutdown() override {
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }
  void flush() override {
    stream_.flush(this);
  }
  std::string addr() const override {
    auto x = net::remote_addr_of_fd(stream_.fd());
    return x ? *x : std::string{};
  }
  uint16_t port() const override {
    auto x = net::remote_port_of_fd(stream_.fd());
    return x ? *x : 0;
  }
  void add_to_loop() override {
    stream_.activate(this);
  }
  void remove_from_loop() override {
    stream_.passivate();
  }

private:
  void launch() {
    launched_ = true;
    stream_.start(this);
    // An empty write drives the handshake until data flows.
    stream_.force_empty_write(this);
  }

  bool launched_ = false;
  net::stream_impl<tls_session> stream_;
};

class tls_doorman : public net::doorman_impl {
public:
  tls_doorman(net::default_multiplexer& mpx, native_socket fd, ctx_ptr ctx)
    : doorman_impl(mpx, fd), ctx_(std::move(ctx)) {
  }

  bool new_connection() override {
    if (detached())
      return false; // The broker let go while the socket was still polled.
    auto& mpx = acceptor_.backend();
    auto fd = acceptor_.accepted_socket();
    caf::detail::socket_guard guard{fd}; // Closed unless a scribe owns it.
    net::nonblocking(fd, true);
    net::child_process_inherit(fd, false);
    auto ssl = new_ssl(ctx_.get(), fd, true);
    if (!ssl)
      return false;
    auto scribe = caf::make_counted<tls_scribe>(mpx, fd, std::move(ssl));
    guard.release();
    auto hdl = scribe->hdl();
    parent()->add_scribe(std::move(scribe));
    return doorman::new_connection(&mpx, hdl);
  }

private:
  ctx_ptr ctx_;
};

class tls_middleman : public caf::io::middleman_actor_impl {
public:
  tls_middleman(caf::actor_config& cfg, caf::actor basp, ctx_ptr ctx)
    : middleman_actor_impl(cfg, std::move(basp)), ctx_(std::move(ctx)) {
  }

  const char* name() const override {
    return "labrt.tls_middleman";
  }

protected:
  caf::expected<caf::io::scribe_ptr> connect(const std::string& host,
                                             uint16_t port) override {
    auto fd = net::new_tcp_connection(host, port);
    if (!fd)
      return std::move(fd.error());
    caf::detail::socket_guard guard{*fd};
    net::nonblocking(*fd, true);
    auto ssl = new_ssl(ctx_.get(), *fd, false);
    if (!ssl)
      return caf::sec::cannot_connect_to_node;
    guard.release();
    return caf::make_counted<tls_scribe>(mpx_of(system()), *fd,
                                         std::move(ssl));
  }

  caf::expected<caf::io::doorman_ptr> open(uint16_t port, const char* addr,
                                           bool reuse) override {
    auto fd = net::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd)
      return std::move(fd.error());
    return caf::make_counted<tls_doorman>(mpx_of(system()), *fd, ctx_);
  }

private:
  ctx_ptr ctx_;
};

std::string ssl_reason() {
  auto code = ERR_get_error();
  ERR_clear_error();
  auto text = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return text != nullptr ? text : "unknown error";
}

caf::expected<ctx_ptr> make_context(const cluster_tls& tls) {
  ERR_clear_error();
  ctx_ptr ctx{SSL_CTX_new(TLS_method()), SSL_CTX_free};
  auto fail = [](const std::string& what) {
    return make_error(errc::invalid_argument,
                      "cluster.tls: " + what + ": " + ssl_reason());
  };
  if (!ctx)
    return fail("no TLS context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // CAF's stream retries a write with what its buffer holds by then.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE
                                | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert.c_str()) != 1)
    return fail("cannot load '" + tls.cert + "'");
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(), SSL_FILETYPE_PEM)
      != 1)
    return fail("cannot load '" + tls.key + "'");
  if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca.c_str(), nullptr) != 1)
    return fail("cannot load '" + tls.ca + "'");
  // Both ends show a certificate; a peer without one is refused.
  SSL_CTX_set_verify(ctx.get(),
                     SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  return ctx;
}

} // namespace

caf::expected<caf::io::middleman_actor>
spawn_tls_middleman(caf::actor_system& sys, const cluster_tls& tls) {
  auto ctx = make_context(tls);
  if (!ctx)
    return std::move(ctx.error());
  auto basp = sys.middleman().named_broker<caf::io::basp_broker>(
    caf::atom("BASP"));
  // Detached as CAF's own: connect resolves names and connects blocking.
  return sys.spawn<tls_middleman, caf::detached + caf::hidden>(
    std::move(basp), std::move(*ctx));
}

} // namespace labrt
