#include "src/run_dir.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "labrt/errc.hpp"
#include "src/proc_stat.hpp"
#include "src/proc_tree.hpp"
#include "src/sys_util.hpp"

namespace labrt {

namespace {

namespace fs = std::filesystem;

int64_t ns_of(caf::timestamp t) {
  return t.time_since_epoch().count();
}

caf::timestamp time_of(int64_t ns) {
  return caf::timestamp{caf::timestamp::duration{ns}};
}

} // namespace

bool write_all(int fd, const std::string& text, int send_flags) {
  size_t done = 0;
  while (done < text.size()) {
    auto n = send_flags >= 0
               ? ::send(fd, text.data() + done, text.size() - done, send_flags)
               : ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string run_dir_of(const std::string& runs_dir, const std::string& id) {
  return runs_dir + "/" + id;
}

std::string socket_path_of(const std::string& dir) {
  return dir + "/sock";
}

plain_error write_atomically(const std::string& path, const std::string& text) {
  auto tmp = path + ".tmp";
  unique_fd fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
  if (!fd)
    return system_error("cannot create " + tmp, errno);
  if (!write_all(fd.get(), text))
    return system_error("cannot write " + tmp, errno);
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return system_error("cannot rename " + tmp, errno);
  return {};
}

plain_expected<json> read_json_file(const std::string& path) {
  std::string text;
  if (!read_file(path, text)) {
    if (errno == ENOENT)
      return plain_error{errc::not_found, path + " does not exist"};
    return system_error("cannot read " + path, errno);
  }
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object())
    return plain_error{errc::invalid_argument, path + " is not a JSON object"};
  return j;
}

json job_to_json(const watch_job& job) {
  return {{"run_id", job.run_id}, {"argv", job.spec.argv},
          {"cwd", job.spec.cwd}, {"env", job.spec.env},
          {"inherit_env", job.spec.inherit_env}, {"cookie", job.spec.cookie},
          {"script", job.script}, {"roots", job.roots},
          {"script_arg", job.script_arg}, {"log_path", job.log_path},
          {"log_max_bytes", job.log_max_bytes},
          {"timeout_ms", job.timeout.count()}, {"grace_ms", job.grace.count()}};
}

watch_job job_from_json(const json& j) {
  watch_job job;
  job.run_id = j.at("run_id").get<std::string>();
  job.spec.argv = j.at("argv").get<std::vector<std::string>>();
  job.spec.cwd = j.at("cwd").get<std::string>();
  job.spec.env = j.at("env").get<std::map<std::string, std::string>>();
  job.spec.inherit_env = j.at("inherit_env").get<std::vector<std::string>>();
  job.spec.cookie = j.at("cookie").get<std::string>();
  job.script = j.at("script").get<std::string>();
  job.roots = j.at("roots").get<std::vector<std::string>>();
  job.script_arg = j.at("script_arg").get<size_t>();
  job.log_path = j.at("log_path").get<std::string>();
  job.log_max_bytes = j.at("log_max_bytes").get<uint64_t>();
  job.timeout = std::chrono::milliseconds{j.at("timeout_ms").get<int64_t>()};
  job.grace = std::chrono::milliseconds{j.at("grace_ms").get<int64_t>()};
  return job;
}

json started_to_json(const started_info& x) {
  return {{"pid", x.pid}, {"pgid", x.pgid}, {"at_ns", ns_of(x.at)},
    {"path", x.path}, {"start_ticks", x.start_ticks}};
}

started_info started_from_json(const json& j) {
  started_info x;
  x.pid = j.value("pid", 0);
  x.pgid = j.value("pgid", 0);
  x.at = time_of(j.value("at_ns", int64_t{0}));
  x.path = j.value("path", "");
  x.start_ticks = j.value("start_ticks", uint64_t{0});
  return x;
}

json ended_to_json(const run_ended& x) {
  json j = static_cast<const run_end&>(x);
  j["run_id"] = x.run_id;
  j["lost"] = x.lost;
  j["ended_at_ns"] = ns_of(x.ended_at);
  return j;
}

run_ended ended_from_json(const json& j) {
  run_ended x;
  static_cast<run_end&>(x) = j.get<run_end>();
  x.run_id = j.value("run_id", "");
  x.lost = j.value("lost", false);
  x.ended_at = time_of(j.value("ended_at_ns", int64_t{0}));
  return x;
}

plain_expected<std::string> make_run_dir(
  const std::string& runs_dir, const run_record& rec, const watch_job& job) {
  auto dir = run_dir_of(runs_dir, rec.run_id);
  if (socket_path_of(dir).size() > max_socket_path)
    return plain_error{errc::invalid_argument,
      "the run's socket path " + socket_path_of(dir) + " is over "
        + std::to_string(max_socket_path) + " bytes: use a shorter state_dir"};
  if (::mkdir(runs_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return system_error("cannot create " + runs_dir, errno);
  if (::mkdir(dir.c_str(), 0700) != 0)
    return system_error("cannot create " + dir, errno);
  json spec{{"record", rec}, {"job", job_to_json(job)}};
  auto text = spec.dump(-1, ' ', false, json::error_handler_t::replace);
  if (auto err = write_atomically(dir + "/spec.json", text)) {
    remove_run_dir(dir);
    return err;
  }
  return dir;
}

proc_identity self_identity() {
  proc_identity id{::getpid(), 0};
  if (proc_stat st; read_proc_stat(id.pid, st))
    id.start_ticks = st.start_ticks;
  return id;
}

bool is_alive_as(const proc_identity& id) {
  proc_stat st;
  return id.pid > 0 && read_proc_stat(id.pid, st)
         && st.start_ticks == id.start_ticks && counts_as_running(st);
}

int kill_run_leftovers(const run_record& rec, uint64_t leader_start,
                       std::chrono::milliseconds patience) {
  auto until = std::chrono::steady_clock::now() + patience;
  int killed = 0;
  // Without a leader start, the pid alone could be anybody's by now.
  auto leader = leader_start != 0 && is_alive_as({rec.pid, leader_start})
                  ? rec.pid
                  : 0;
  for (;;) {
    auto found = run_members(leader, rec.cookie, leader_start);
    if (found.empty() || std::chrono::steady_clock::now() >= until)
      return killed;
    for (auto pid : found) {
      auto fd = pidfd_open(pid);
      if (!fd)
        continue;
      unique_fd owned{*fd};
      if (!send_signal(owned.get(), SIGKILL))
        ++killed;
      // Not our children: wait for each to be gone rather than reap it.
      pollfd pfd{owned.get(), POLLIN, 0};
      ::poll(&pfd, 1, 100);
    }
    leader = 0; // Killed above: its pid is no longer proof of anything.
  }
}

void remove_run_dir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

namespace {

found_run classify(const std::string& dir, json spec) {
  found_run f;
  f.dir = dir;
  f.rec = spec.at("record").get<run_record>();
  f.end.run_id = f.rec.run_id;
  uint64_t leader_start = 0;
  if (auto started = read_json_file(dir + "/started.json")) {
    auto s = started_from_json(*started);
    f.rec.pid = s.pid;
    f.rec.pgid = s.pgid;
    f.rec.started_at = s.at;
    if (!s.path.empty())
      f.rec.path = s.path;
    leader_start = s.start_ticks;
  }
  if (auto status = read_json_file(dir + "/status.json")) {
    f.kind = found_run::finished;
    f.end = ended_from_json(*status);
    return f;
  }
  proc_identity shim{0, 0};
  if (auto ident = read_json_file(dir + "/shim.json")) {
    shim.pid = ident->value("pid", 0);
    shim.start_ticks = ident->value("start_ticks", uint64_t{0});
  }
  if (is_alive_as(shim)) {
    f.kind = found_run::live;
    return f;
  }
  f.kind = found_run::lost;
  f.end.lost = true;
  f.end.error = "lost: its shim";
  if (shim.pid > 0)
    f.end.error += " (pid " + std::to_string(shim.pid) + ")";
  proc_stat st;
  bool other = shim.pid > 0 && read_proc_stat(shim.pid, st)
               && counts_as_running(st);
  f.end.error += other ? " is another process now" : " is gone";
  f.end.error += " and left no status";
  if (f.rec.pid != 0) {
    auto n = kill_run_leftovers(f.rec, leader_start, std::chrono::seconds{5});
    f.end.error += "; the script was pid " + std::to_string(f.rec.pid)
                   + ", " + std::to_string(n) + " process(es) of it killed";
  } else {
    f.end.error += "; the script never started";
  }
  return f;
}

} // namespace

std::vector<found_run> scan_run_dirs(const std::string& runs_dir) {
  std::vector<std::string> dirs;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator{runs_dir, ec})
    if (entry.is_directory(ec))
      dirs.push_back(entry.path().string());
  // Run ids start with their time.
  std::sort(dirs.begin(), dirs.end());
  std::vector<found_run> result;
  for (auto& dir : dirs) {
    auto spec = read_json_file(dir + "/spec.json");
    if (!spec || !spec->contains("record")) {
      remove_run_dir(dir);
      continue;
    }
    try {
      result.push_back(classify(dir, std::move(*spec)));
    } catch (const json::exception&) {
      remove_run_dir(dir);
    }
  }
  return result;
}

} // namespace labrt
