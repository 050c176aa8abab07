// Request bytes through the HTTP API's real processing: httplib's parser,
// authentication, body framing, routing, every route and the replies, over
// a runtime without the test runner (no process is ever started).
//
// Each input is one connection's bytes, served request after request as on
// a keep-alive connection. Invariants: every reply is well-formed, every
// error reply with a body carries a JSON error, and nothing crashes, leaks
// or trips a sanitizer.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz_check.hpp"
#include "labrt/runtime.hpp"
#include "src/http/server_impl.hpp"

namespace {

/// A connection in memory: reads the input, collects what is written.
class memory_stream : public httplib::Stream {
public:
  memory_stream(const uint8_t* data, size_t size) : data_(data), size_(size) {
  }

  bool is_readable() const override {
    return true;
  }

  bool is_writable() const override {
    return true;
  }

  ssize_t read(char* ptr, size_t size) override {
    auto n = std::min(size, size_ - pos_);
    std::memcpy(ptr, data_ + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    out.append(ptr, size);
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }

  socket_t socket() const override {
    return 0; // Only compared with FD_SETSIZE.
  }

  size_t consumed() const {
    return pos_;
  }

  std::string out;

private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

/// The runtime and the server's inside, made once: starting a runtime costs
/// far more than a request. Never destroyed, so that no exit-time order
/// matters.
labrt::http_server::impl& server() {
  static auto* inside = [] {
    labrt::runtime_config cfg;
    cfg.runner.enabled = false;
    cfg.event_hub = true;
    auto rt = labrt::runtime::make(cfg);
    LABRT_FUZZ_CHECK(rt);
    labrt::http_config http;
    http.listen = "127.0.0.1:0";
    // Small, so that inputs reach the limit.
    http.max_body_bytes = 4096;
    auto made = labrt::http_server::impl::make(**rt, http, "fuzz", nullptr);
    LABRT_FUZZ_CHECK(made);
    rt->release(); // Lives as long as the process, as the server's inside.
    return made->release();
  }();
  return *inside;
}

/// One request's reply: a status line, and for an error with a body a JSON
/// one with "error" and "code".
void check_reply(std::string reply) {
  if (reply.empty())
    return; // The input ended before a whole request line.
  static const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  if (reply.compare(0, interim.size(), interim) == 0)
    reply.erase(0, interim.size());
  LABRT_FUZZ_CHECK(reply.compare(0, 9, "HTTP/1.1 ") == 0);
  auto head_end = reply.find("\r\n\r\n");
  LABRT_FUZZ_CHECK(head_end != std::string::npos);
  auto head = reply.substr(0, head_end);
  auto status = std::stoi(head.substr(9, 3));
  auto length_at = head.find("\r\nContent-Length: ");
  // Streams are chunked; HEAD replies have a length but no body; httplib
  // cuts a body to a requested Range and compresses it on request.
  if (status < 400 || length_at == std::string::npos
      || reply.size() == head_end + 4
      || head.find("\r\nContent-Range: ") != std::string::npos
      || head.find("\r\nContent-Encoding: ") != std::string::npos)
    return;
  auto length = std::stoul(head.substr(length_at + 18));
  LABRT_FUZZ_CHECK(reply.size() == head_end + 4 + length);
  auto doc = labrt::json::parse(reply.substr(head_end + 4), nullptr, false);
  LABRT_FUZZ_CHECK(doc.is_object() && doc.contains("error")
                   && doc.contains("code"));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& inside = server();
  memory_stream strm{data, size};
  // One request per call, until the input is used up or a request fails.
  while (strm.consumed() < size) {
    auto before = strm.consumed();
    strm.out.clear();
    auto served = inside.svr.serve(strm);
    check_reply(strm.out);
    if (!served || strm.consumed() == before)
      break;
  }
  // Each input starts from an empty store, so that a crash reproduces.
  auto cleared = inside.local().kv().clear();
  LABRT_FUZZ_CHECK(cleared);
  return 0;
}
