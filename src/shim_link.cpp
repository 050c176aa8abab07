#include "src/shim_link.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "labrt/errc.hpp"
#include "src/event_fd.hpp"
#include "src/run_dir.hpp"
#include "src/shim.hpp"
#include "src/sys_util.hpp"

namespace labrt {

caf::expected<spare_shim> spare_shim::spawn(
  const std::string& shim, const std::vector<std::string>& inherit_env) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return system_error("socketpair", errno);
  unique_fd ours{pair[0]};
  unique_fd theirs{pair[1]};
  spawn_spec spec;
  spec.argv = {shim, "--spare", std::to_string(theirs.get())};
  spec.inherit_env = inherit_env;
  spec.keep_fd = theirs.get();
  auto c = labrt::spawn(spec);
  if (!c)
    return std::move(c.error());
  spare_shim spare;
  spare.sock_ = std::move(ours);
  spare.pidfd_ = std::move(c->pidfd);
  spare.pid_ = c->pid;
  timeval tv{5, 0};
  ::setsockopt(spare.sock_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return spare;
}

spare_shim::~spare_shim() {
  if (!pidfd_)
    return;      // Moved from, or given its run.
  sock_.reset(); // Its wait ends: it exits.
  pollfd pfd{pidfd_.get(), POLLIN, 0};
  if (::poll(&pfd, 1, 1000) <= 0)
    static_cast<void>(send_signal(pidfd_.get(), SIGKILL));
  siginfo_t info;
  ::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED);
}

caf::expected<shim_link> shim_link::launch(
  spare_shim spare, const std::string& dir) {
  if (!send_line(spare.sock_.get(), {{"run", dir}}))
    return system_error(
      "the spare shim (pid " + std::to_string(spare.pid_) + ") is gone", errno);
  shim_link link;
  link.dir_ = dir;
  link.sock_ = std::move(spare.sock_);
  link.shim_pid_ = spare.pid_;
  link.shim_pidfd_ = std::move(spare.pidfd_);
  return link;
}

std::string find_shim(const std::string& configured) {
  if (!configured.empty())
    return configured;
  // This very build's shim, then the installed one.
  if (::access(LABRT_SHIM_BUILD_PATH, X_OK) == 0)
    return LABRT_SHIM_BUILD_PATH;
  return LABRT_SHIM_INSTALL_PATH;
}

caf::expected<shim_link> shim_link::attach(const std::string& dir) {
  auto fd = connect_unix(socket_path_of(dir));
  if (!fd)
    return std::move(fd.error());
  if (!peer_is_our_uid(fd->get()))
    return make_error(errc::system_error,
                      socket_path_of(dir) + " is served by another user");
  shim_link link;
  link.dir_ = dir;
  link.sock_ = std::move(*fd);
  return link;
}

void shim_link::stop(const std::string& by, std::chrono::milliseconds grace) {
  send_line(sock_.get(), {{"stop", by}, {"grace_ms", grace.count()}});
}

caf::expected<run_ended> shim_link::after_eof(const std::string& run_id) {
  if (shim_pidfd_) {
    // Our child: it closes the socket as it exits; reap it.
    pollfd pfd{shim_pidfd_.get(), POLLIN, 0};
    ::poll(&pfd, 1, 5000);
    siginfo_t info;
    ::waitid(P_PIDFD, static_cast<id_t>(shim_pidfd_.get()), &info,
             WEXITED | WNOHANG);
  }
  // The shim writes its status before it says goodbye: no status now, none
  // ever.
  auto status = read_json_file(dir_ + "/status.json");
  auto spec = read_json_file(dir_ + "/spec.json");
  if (status && status->contains("failed"))
    return make_error(errc::spawn_failed, status->value("failed", ""));
  if (status) {
    auto end = ended_from_json(*status);
    end.run_id = run_id;
    return end;
  }
  run_ended end;
  end.run_id = run_id;
  end.lost = true;
  end.error = "lost: the shim";
  if (shim_pid_ > 0)
    end.error += " (pid " + std::to_string(shim_pid_) + ")";
  end.error += " ended without a status";
  if (spec) {
    try {
      auto rec = spec->at("record").get<run_record>();
      uint64_t ticks = 0;
      if (auto started = read_json_file(dir_ + "/started.json")) {
        rec.pid = started->value("pid", 0);
        ticks = started->value("start_ticks", uint64_t{0});
      }
      auto n = kill_run_leftovers(rec, ticks, std::chrono::seconds{5});
      end.error += "; " + std::to_string(n) + " process(es) of the run killed";
    } catch (const json::exception&) {
      end.error += "; its spec is unreadable";
    }
  }
  return end;
}

bool shim_link::reconnect() {
  // A shim that dropped us (we were too slow to read) but runs on.
  if (read_json_file(dir_ + "/status.json"))
    return false;
  auto ident = read_json_file(dir_ + "/shim.json");
  if (!ident
      || !is_alive_as({ident->value("pid", 0),
                       ident->value("start_ticks", uint64_t{0})}))
    return false;
  auto fd = connect_unix(socket_path_of(dir_));
  if (!fd || !peer_is_our_uid(fd->get()))
    return false;
  sock_ = std::move(*fd);
  return true;
}

caf::expected<run_ended> shim_link::run(const std::string& run_id,
                                        shim_hooks hooks, int wake_fd,
                                        int credit_fd) {
  line_reader reader;
  for (;;) {
    pollfd pfds[3] = {{sock_.get(), POLLIN, 0},
                      {wake_fd, POLLIN, 0},
                      {credit_fd, POLLIN, 0}};
    if (::poll(pfds, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      return system_error("poll", errno);
    }
    if (pfds[2].revents != 0)
      if (auto n = event_fd::drain(credit_fd); n > 0)
        send_line(sock_.get(), {{"credit", n}});
    if (pfds[1].revents != 0) {
      event_fd::drain(wake_fd);
      if (hooks.wake)
        hooks.wake();
      if (abandoned_) {
        run_ended end;
        end.run_id = run_id;
        end.stopped_by = "abandoned";
        return end;
      }
    }
    if (pfds[0].revents == 0)
      continue;
    bool open = reader.read_some(sock_.get());
    for (json msg; reader.next(msg);) {
      if (!msg.is_object())
        continue;
      try {
        if (auto i = msg.find("started"); i != msg.end()) {
          auto s = started_from_json(*i);
          hooks.started(run_started{run_id, s.pid, s.pgid, {}, s.at, s.path});
        } else if (auto b = msg.find("batch"); b != msg.end()) {
          hooks.batch(batch_from_json(run_id, *b));
        } else if (auto e = msg.find("ended"); e != msg.end()) {
          auto end = ended_from_json(*e);
          end.run_id = run_id;
          sock_.reset();
          after_eof(run_id); // reaps our child
          return end;
        } else if (auto f = msg.find("failed"); f != msg.end()) {
          sock_.reset();
          after_eof(run_id);
          return make_error(errc::spawn_failed, f->get<std::string>());
        }
      } catch (const json::exception&) {
        // A garbled line from our own shim: skip it rather than lose the run.
      }
    }
    if (!open) {
      if (reconnect()) {
        reader = line_reader{};
        continue;
      }
      return after_eof(run_id);
    }
  }
}

} // namespace labrt
