// Finding every process of a run through /proc, including ones that left the
// run's session (setsid) or were orphaned by a double fork. Linux only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "src/proc_stat.hpp"
#include "src/process.hpp"

namespace labrt {

/// All descendants of `root` (not `root` itself), zombies included, sorted,
/// through /proc/<pid>/task/*/children (a ppid scan where the kernel lacks
/// those files). Processes that appear or vanish during the walk may be
/// missed: call it again after signalling.
std::vector<pid_t> descendants(pid_t root);

/// The processes of a run: `leader` itself (if > 0), its descendants, its
/// process group members and the holders of `cookie` (an empty one holds
/// nothing), sorted and unique. Zombies (nothing left to signal) and this
/// process are left out. Processes started before `min_start` (a
/// proc_stat::start_ticks, e.g. the leader's) are skipped: nothing older
/// can belong to the run, and only younger ones have their environ read,
/// which is much cheaper on a machine with many processes. Note: `leader`
/// is usually the pid of the spawned child, whose pgid equals its pid; the
/// environ read is the one a process was exec'd with, and one caught in the
/// middle of an execve may briefly read as empty (child_without_environ).
std::vector<pid_t> run_members(
  pid_t leader, const std::string& cookie, uint64_t min_start = 0);

/// Whether a child of this process, started at or after `min_start`, shows
/// no environ: one inside an execve reads as empty for a moment, so a scan
/// cannot tell yet whether it carries a run's cookie (we adopt escapees, as
/// a child subreaper).
bool child_without_environ(uint64_t min_start);

/// Reaps the zombie children of this process (read from
/// /proc/self/task/*/children) whose session is one of `sessions`, except
/// `keep`: orphans of a run that a child subreaper adopted and that died
/// before any scan saw them. A run's leader calls setsid, so nothing outside
/// the run can share its session; the embedding application's own children
/// are never touched. Returns how many were reaped.
int reap_session_zombies(const std::vector<pid_t>& sessions, pid_t keep = 0);

/// Processes of a run, each held by the pidfd opened when a scan found it
/// until it is gone for good: signalled while it lives, and reaped through
/// that pidfd once it is our zombie, whatever session it moved to unseen.
class run_processes {
public:
  /// Starts tracking `pid`, found alive by a scan, unless a live member
  /// holds it. Returns its new pidfd, or -1.
  int add(pid_t pid);

  /// Marks the members whose pidfds report their exit (zombie or reaped).
  void note_exits();

  /// Marks the member `pid` as exited.
  void exited(pid_t pid);

  /// Sends `sig` to every live member.
  void signal_live(int sig);

  /// Reaps the exited members that are our zombies, except `keep`, and
  /// forgets those gone for good.
  void reap(pid_t keep);

  /// Members not known to have exited.
  size_t live() const;

  /// Up to `max` live members as (pid, pidfd).
  std::vector<std::pair<pid_t, int>> some_live(size_t max) const;

  void clear() {
    members_.clear();
  }

private:
  struct member {
    unique_fd pidfd;
    bool exited = false;
  };
  std::map<pid_t, member> members_;
};

} // namespace labrt
