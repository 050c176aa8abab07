#include "src/proc_scan.hpp"

#include <algorithm>
#include <string>
#include <string_view>

#include "src/proc_record.hpp"
#include "src/proc_stat.hpp"

namespace labrt {

namespace {

/// Longest command line read for matching (Linux allows ~2 MiB).
constexpr size_t max_cmdline_bytes = 128 * 1024;

/// Replaces the NULs between the arguments in `buf[0..n)` by spaces, drops
/// the trailing ones and NUL-terminates; returns the new length.
size_t join_args(std::string& buf, size_t n) {
  while (n > 0 && buf[n - 1] == '\0')
    --n;
  std::replace(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(n), '\0', ' ');
  if (buf.size() <= n)
    buf.resize(n + 1);
  buf[n] = '\0';
  return n;
}

const std::string deleted_suffix = " (deleted)";

struct scan_context {
  proc_cache* files = nullptr;
  std::string stat_buf;
  std::string comm_buf;
  std::string comm;
  std::string cmd_buf;
  size_t cmd_len = 0;
  std::string exe;
  std::vector<size_t> hits;
};

bool read_cmdline(scan_context& ctx) {
  auto n = ctx.files->read(proc_cache::cmdline, ctx.cmd_buf, max_cmdline_bytes);
  if (n < 0)
    return false;
  ctx.cmd_len = join_args(ctx.cmd_buf, static_cast<size_t>(n));
  return true;
}

/// Matches one pid against every rule; appends to `out` on a match.
void scan_one(
  scan_context& ctx, const rule_set& rules, pid_t pid, scan_result& out) {
  ctx.hits.clear();
  if (!ctx.files->begin(pid))
    return;
  bool have_cmd = false;
  if (!rules.by_comm().empty()) {
    auto n = ctx.files->read(proc_cache::comm, ctx.comm_buf, 64);
    if (n < 0)
      return; // vanished
    auto len = static_cast<size_t>(n);
    if (len > 0 && ctx.comm_buf[len - 1] == '\n')
      --len;
    ctx.comm.assign(ctx.comm_buf.data(), len); // no allocation: <= 15 bytes
    if (auto i = rules.by_comm().find(ctx.comm); i != rules.by_comm().end())
      ctx.hits.insert(ctx.hits.end(), i->second.begin(), i->second.end());
  }
  // Unreadable (another user's process, a kernel thread): no exe match.
  if (!rules.by_exe().empty() && ctx.files->exe(ctx.exe)) {
    // A binary replaced on disk (an upgrade) still names its old path.
    if (ctx.exe.size() > deleted_suffix.size()
      && ctx.exe.compare(ctx.exe.size() - deleted_suffix.size(),
           deleted_suffix.size(), deleted_suffix)
        == 0)
      ctx.exe.resize(ctx.exe.size() - deleted_suffix.size());
    if (auto i = rules.by_exe().find(ctx.exe); i != rules.by_exe().end())
      ctx.hits.insert(ctx.hits.end(), i->second.begin(), i->second.end());
  }
  if (!rules.cmdline_rules().empty()) {
    if (!read_cmdline(ctx))
      return; // vanished
    have_cmd = true;
    // Kernel threads and zombies have an empty command line.
    if (ctx.cmd_len > 0)
      rules.match_cmdline(
        std::string_view{ctx.cmd_buf.data(), ctx.cmd_len}, ctx.hits);
  }
  if (ctx.hits.empty())
    return;
  // A candidate: check liveness and identity.
  auto n = ctx.files->read(proc_cache::stat, ctx.stat_buf, 4096);
  if (n < 0)
    return;
  proc_stat ident;
  if (!parse_proc_stat(
        std::string_view{ctx.stat_buf.data(), static_cast<size_t>(n)}, ident)
    || !counts_as_running(ident))
    return;
  if (!have_cmd && !read_cmdline(ctx))
    return;
  proc_entry entry;
  entry.id = proc_id{static_cast<int32_t>(pid), ident.start_ticks};
  entry.started = ticks_to_time(ident.start_ticks);
  entry.cmdline = display_cmdline({ctx.cmd_buf.data(), ctx.cmd_len});
  std::sort(ctx.hits.begin(), ctx.hits.end());
  ctx.hits.erase(std::unique(ctx.hits.begin(), ctx.hits.end()), ctx.hits.end());
  for (auto idx : ctx.hits)
    out.services[idx].procs.push_back(entry);
}

} // namespace

void finish_scan(scan_result& result, std::chrono::steady_clock::time_point t0) {
  for (auto& s : result.services)
    std::sort(s.procs.begin(), s.procs.end(),
      [](const proc_entry& x, const proc_entry& y) { return x.id < y.id; });
  result.duration_us = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - t0)
      .count());
}

scan_result scan_pids(
  const rule_set& rules, const std::vector<pid_t>& pids, proc_cache* cache) {
  auto t0 = std::chrono::steady_clock::now();
  scan_result result;
  result.started = caf::make_timestamp();
  result.services.reserve(rules.size());
  for (auto& r : rules.rules())
    result.services.push_back(service_procs{r.rule.name, r.id, {}});
  if (rules.empty())
    return result;
  // Without a cache: nothing kept open, every file read by path.
  proc_cache one_off{0};
  scan_context ctx;
  ctx.files = cache != nullptr ? cache : &one_off;
  for (auto pid : pids) {
    scan_one(ctx, rules, pid, result);
    ++result.scanned;
  }
  ctx.files->end_pass();
  finish_scan(result, t0);
  return result;
}

} // namespace labrt
