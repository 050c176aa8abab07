#include "src/shim.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <iostream>

#include "labrt/errc.hpp"
#include "src/event_fd.hpp"
#include "src/run_dir.hpp"
#include "src/run_watch.hpp"
#include "src/sys_util.hpp"

namespace labrt {

bool send_line(int fd, const json& msg) {
  if (fd < 0)
    return false;
  return write_all(
    fd, msg.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
    MSG_NOSIGNAL);
}

bool line_reader::read_some(int fd) {
  char chunk[65536];
  for (;;) {
    auto n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

bool line_reader::next(json& out) {
  auto nl = buf_.find('\n');
  if (nl == std::string::npos)
    return false;
  out = json::parse(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(nl),
                    nullptr, false);
  buf_.erase(0, nl + 1);
  return true;
}

json batch_to_json(const std::vector<output_line>& lines, uint64_t dropped) {
  auto arr = json::array();
  for (auto& l : lines)
    arr.push_back(json::array({l.stream, l.n, l.text}));
  return {{"batch", {{"lines", std::move(arr)}, {"dropped", dropped}}}};
}

output_batch batch_from_json(const std::string& run_id, const json& j) {
  output_batch b;
  b.run_id = run_id;
  b.dropped = j.value("dropped", uint64_t{0});
  for (auto& l : j.at("lines"))
    b.lines.push_back(output_line{l.at(0).get<uint8_t>(),
                                  l.at(2).get<std::string>(),
                                  l.at(1).get<uint64_t>()});
  return b;
}

namespace {

// What caf::make_timestamp() gives, without linking CAF.
caf::timestamp now() {
  return std::chrono::time_point_cast<caf::timestamp::duration>(
    std::chrono::system_clock::now());
}

plain_expected<sockaddr_un> address_of(const std::string& path) {
  sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return plain_error{
      errc::invalid_argument, "socket path " + path + " does not fit sun_path"};
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

} // namespace

plain_expected<unique_fd> listen_unix(const std::string& path) {
  auto addr = address_of(path);
  if (!addr)
    return std::move(addr.error());
  unique_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (!fd)
    return system_error("socket", errno);
  ::unlink(path.c_str());
  auto mask = ::umask(0077);
  auto rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr);
  ::umask(mask);
  if (rc != 0 || ::listen(fd.get(), 4) != 0)
    return system_error("cannot listen on " + path, errno);
  return fd;
}

plain_expected<unique_fd> connect_unix(const std::string& path) {
  auto addr = address_of(path);
  if (!addr)
    return std::move(addr.error());
  unique_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (!fd)
    return system_error("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0)
    return system_error("cannot connect to " + path, errno);
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

bool peer_is_our_uid(int fd) {
  ucred cred;
  socklen_t len = sizeof cred;
  return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0
         && cred.uid == ::geteuid();
}

namespace {

/// The shim's side of its socket: the daemon's connection (one at a time;
/// a new one is a restarted daemon and replaces the old) and the credit it
/// owes run_watch for batches sent to a daemon that went away.
class shim_server {
public:
  shim_server(int epoll, unique_fd listener, event_fd& credit)
    : epoll_(epoll), listener_(std::move(listener)), credit_(credit) {
    add(listener_.get());
  }

  void adopt(unique_fd conn) {
    drop();
    timeval tv{5, 0};
    ::setsockopt(conn.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    conn_ = std::move(conn);
    reader_ = line_reader{};
    add(conn_.get());
    if (started_.is_object())
      send({{"started", started_}});
  }

  void started(json info) {
    started_ = std::move(info);
    send({{"started", started_}});
  }

  void batch(const std::vector<output_line>& lines, uint64_t dropped) {
    if (conn_ && send(batch_to_json(lines, dropped)))
      ++unacked_;
    else
      credit_.notify(); // Nobody listens: the log has it all.
  }

  bool send(const json& msg) {
    if (!conn_)
      return false;
    if (send_line(conn_.get(), msg))
      return true;
    drop();
    return false;
  }

  /// Handles what the epoll fd reports; stop requests go to `watch`.
  void serve(run_watch& watch) {
    epoll_event evs[4];
    int n = ::epoll_wait(epoll_, evs, 4, 0);
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.fd == listener_.get())
        accept_one();
      else if (conn_ && evs[i].data.fd == conn_.get())
        read_commands(watch);
    }
  }

private:
  void add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }

  void drop() {
    if (!conn_)
      return;
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, conn_.get(), nullptr);
    conn_.reset();
    credit_.add(unacked_);
    unacked_ = 0;
  }

  void accept_one() {
    unique_fd conn{::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)};
    if (conn && peer_is_our_uid(conn.get()))
      adopt(std::move(conn));
  }

  void read_commands(run_watch& watch) {
    bool open = reader_.read_some(conn_.get());
    for (json msg; reader_.next(msg);) {
      if (!msg.is_object())
        continue;
      if (auto n = msg.value("credit", uint64_t{0}); n > 0) {
        n = std::min(n, unacked_);
        unacked_ -= n;
        credit_.add(n);
      }
      if (msg.contains("stop") && msg["stop"].is_string())
        watch.stop(msg["stop"].get<std::string>(),
                   std::chrono::milliseconds{msg.value("grace_ms", int64_t{0})});
    }
    if (!open)
      drop();
  }

  int epoll_;
  unique_fd listener_;
  unique_fd conn_;
  line_reader reader_;
  event_fd& credit_;
  uint64_t unacked_ = 0;
  json started_;
};

int fail(const std::string& dir, const std::string& why) {
  std::cerr << "labrt-shim: " << why << std::endl;
  run_ended end;
  end.error = why;
  end.ended_at = now();
  auto status = ended_to_json(end);
  status["failed"] = why; // nothing ran
  write_atomically(dir + "/status.json", status.dump());
  return 1;
}

} // namespace

std::string await_run_dir(int fd) {
  std::string line;
  for (;;) {
    char chunk[4096];
    auto n = ::recv(fd, chunk, sizeof chunk, MSG_PEEK);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return {};
    // Only up to the newline: what follows (a stop) is the server's.
    auto end = std::find(chunk, chunk + n, '\n');
    auto take = static_cast<size_t>(end - chunk) + (end < chunk + n ? 1 : 0);
    if (::recv(fd, chunk, take, 0) != static_cast<ssize_t>(take))
      return {};
    line.append(chunk, take);
    if (end < chunk + n)
      break;
  }
  auto msg = json::parse(line, nullptr, false);
  if (!msg.is_object() || !msg.contains("run") || !msg["run"].is_string())
    return {};
  return msg["run"].get<std::string>();
}

int shim_main(const std::string& dir, int conn_fd) {
  unique_fd first{conn_fd};
  // Apart from the daemon: its death, its terminal and its process group
  // must not take the run along.
  ::setsid();
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  auto spec = read_json_file(dir + "/spec.json");
  if (!spec)
    return fail(dir, render(spec.error()));
  watch_job job;
  try {
    job = job_from_json(spec->at("job"));
  } catch (const json::exception& e) {
    return fail(dir, std::string{"bad spec.json: "} + e.what());
  }
  auto me = self_identity();
  if (auto err = write_atomically(dir + "/shim.json",
        json{{"pid", me.pid}, {"start_ticks", me.start_ticks}}.dump()))
    return fail(dir, render(err));
  set_child_subreaper();
  auto listener = listen_unix(socket_path_of(dir));
  if (!listener)
    return fail(dir, render(listener.error()));
  unique_fd epoll{::epoll_create1(EPOLL_CLOEXEC)};
  auto credit = event_fd::make();
  if (!epoll || !credit)
    return fail(dir, "no epoll or eventfd: " + errno_text(errno));
  shim_server server{epoll.get(), std::move(*listener), *credit};
  if (first)
    server.adopt(std::move(first));
  job.wake_fd = epoll.get(); // readable = the socket has news
  job.credit_fd = credit->get();
  run_watch watch{job};
  watch_hooks hooks;
  hooks.started = [&](pid_t pid, pid_t pgid) {
    started_info s{pid, pgid, now(), watch.script_path(), 0};
    if (proc_stat st; read_proc_stat(pid, st))
      s.start_ticks = st.start_ticks;
    auto info = started_to_json(s);
    // The daemon first: it waits for this to answer the start.
    server.started(info);
    if (auto err = write_atomically(dir + "/started.json", info.dump()))
      std::cerr << "labrt-shim: " << render(err) << std::endl;
  };
  hooks.batch = [&](std::vector<output_line> lines, uint64_t dropped) {
    server.batch(lines, dropped);
  };
  hooks.wake = [&] { server.serve(watch); };
  auto result = watch.run(std::move(hooks));
  ::unlink(socket_path_of(dir).c_str());
  if (!result) {
    auto why = render(result.error());
    fail(dir, why);
    server.send({{"failed", why}});
    return 1;
  }
  result->ended_at = now();
  auto status = ended_to_json(*result);
  if (auto err = write_atomically(dir + "/status.json", status.dump(
        -1, ' ', false, json::error_handler_t::replace)))
    std::cerr << "labrt-shim: " << render(err) << std::endl;
  server.send({{"ended", status}});
  return 0;
}

} // namespace labrt
