// The test runner's fixture and run-output subscriber (test_runner): a runtime
// whose runner takes scripts from tests/scripts and a temp root, and a check
// that nothing of a run is left.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <caf/send.hpp>

#include "proc_support.hpp"
#include "src/proc_tree.hpp"
#include "support.hpp"

namespace labrt::test {

/// Whether `pid` names a live (non-zombie) process.
inline bool alive(pid_t pid) {
  proc_stat st;
  return read_proc_stat(pid, st) && st.state != 'Z';
}

/// Nothing of the run is left: no process with its cookie, leader gone, no
/// zombie child of ours.
inline void require_nothing_left(const run_record& rec) {
  INFO("run " << rec.run_id << " cookie " << rec.cookie);
  CHECK_FALSE(rec.cookie.empty());
  auto left = find_by_cookie(rec.cookie);
  for (auto pid : left) {
    proc_stat st;
    if (read_proc_stat(pid, st))
      UNSCOPED_INFO("left: pid " << pid << " " << st.comm << " state "
                                 << st.state << " ppid " << st.ppid << " pgrp "
                                 << st.pgrp << " session " << st.session);
  }
  CHECK(left.empty());
  if (rec.pid > 0)
    CHECK_FALSE(alive(rec.pid));
  CHECK(zombie_children().empty());
}

/// A runtime whose runner takes scripts from tests/scripts and a temp root.
struct fixture {
  temp_dir dir;
  std::unique_ptr<runtime> rt;
  std::unique_ptr<client> cl;

  explicit fixture(int64_t grace_ms = 2000, uint64_t log_max = 1 << 20) {
    std::filesystem::create_directories(dir / "root");
    runtime_config cfg;
    cfg.runner.roots = {scripts_dir, dir / "root"};
    cfg.runner.logs_dir = dir / "logs";
    cfg.runner.grace_ms = grace_ms;
    cfg.runner.log_max_bytes = log_max;
    cfg.runner.inherit_env = {"PATH"};
    rt = start_runtime(cfg);
    cl = std::make_unique<client>(*rt);
  }

  ~fixture() {
    cl.reset();
    rt.reset();
  }

  runner_facade& runner() {
    return cl->runner();
  }

  run_record start(const std::string& script,
    std::vector<std::string> args = {}, int64_t timeout_ms = -1) {
    run_spec spec;
    spec.script = script;
    spec.args = std::move(args);
    spec.timeout_ms = timeout_ms;
    return value_of(runner().start(spec));
  }

  run_record run_to_end(
    const std::string& script, std::vector<std::string> args = {}) {
    auto rec = start(script, std::move(args));
    return value_of(runner().wait(rec.run_id, std::chrono::seconds{60}));
  }
};

/// A subscriber to run output: a scoped actor that answers every batch.
struct tail {
  caf::scoped_actor self;
  std::vector<output_line> lines;
  std::vector<run_record> runs; ///< Each run_update, in order.
  std::vector<std::vector<std::string>> queues; ///< Run ids of each update.
  uint64_t received = 0; ///< Lines received, kept or not.
  uint64_t dropped = 0;
  bool keep = true; ///< Whether to keep lines, not just count them.
  std::string only_run; ///< When set, keeps the lines of this run alone.
  bool closed = false; ///< Got the batch of run id "closed" (see close()).

  explicit tail(runtime& rt) : self(rt.system()) {
    bool ok = false;
    self
      ->request(rt.runner(), deadline, atom::subscribe_v,
        caf::actor_cast<run_output_actor>(self))
      .receive([&](std::string&) { ok = true; },
        [&](caf::error& err) { FAIL("subscribe: " << render(err)); });
    REQUIRE(ok);
  }

  bool receive_one() {
    return receive_within(deadline, [&](auto wait) {
      self->receive(
        [&](output_batch& batch) {
          if (batch.run_id == "closed")
            closed = true;
          dropped += batch.dropped;
          received += batch.lines.size();
          if (keep && (only_run.empty() || batch.run_id == only_run))
            for (auto& line : batch.lines)
              lines.push_back(std::move(line));
        },
        [&](run_update& up) {
          runs.push_back(std::move(up.run));
        },
        [&](queue_update& up) {
          std::vector<std::string> ids;
          for (auto& run : up.queue)
            ids.push_back(run.run_id);
          queues.push_back(std::move(ids));
        },
        std::move(wait));
    });
  }

  /// Makes the receive loop of another thread end.
  void close() {
    caf::anon_send(
      caf::actor_cast<run_output_actor>(self), output_batch{"closed", {}, 0});
  }

  /// Waits until a line equal to `text` has arrived.
  bool wait_for(const std::string& text) {
    for (;;) {
      for (auto& line : lines)
        if (line.text == text)
          return true;
      if (!receive_one())
        return false;
    }
  }

  /// Lines that start with `tag + " "`, as pids.
  std::vector<pid_t> pids_tagged(const std::string& tag) const {
    std::vector<pid_t> result;
    for (auto& line : lines)
      if (line.text.rfind(tag + " ", 0) == 0)
        result.push_back(std::stoi(line.text.substr(tag.size() + 1)));
    return result;
  }
};

} // namespace labrt::test
