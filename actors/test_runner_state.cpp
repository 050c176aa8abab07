// The runner's bookkeeping: plain methods on its state, no actors.
#include "actors/test_runner.hpp"

#include <cctype>
#include <filesystem>
#include <sstream>
#include <utility>

#include <caf/send.hpp>

#include "labrt/errc.hpp"
#include "src/json_fields.hpp"

namespace labrt {

namespace {

namespace fs = std::filesystem;

int64_t ms_between(caf::timestamp a, caf::timestamp b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

} // namespace


test_runner_state::~test_runner_state() {
  // Killed without an exit handler run (exit_reason::kill): the watcher
  // must not outlive the system waiting for a child.
  if (current_ && current_->watcher) {
    caf::anon_send(current_->watcher, atom::abandon_v);
    current_->chan->wake.notify();
  }
  if (admission_)
    caf::anon_send_exit(admission_, caf::exit_reason::user_shutdown);
}

caf::error test_runner_state::busy_error() const {
  auto& rec = current_->rec;
  std::string text = "run " + rec.run_id + " ('" + rec.script + "'";
  if (rec.pid != 0)
    text += ", pid " + std::to_string(rec.pid);
  text += ") is " + std::string{to_string(rec.state)};
  if (rec.started_at.time_since_epoch().count() != 0)
    text += ", started at " + to_iso8601(rec.started_at);
  return make_error(errc::already_running, std::move(text));
}

std::string test_runner_state::next_run_id() {
  auto now = caf::make_timestamp();
  auto iso = to_iso8601(now); // 2026-11-27T20:42:35.123Z
  std::string compact;
  for (char c : iso)
    if (std::isdigit(static_cast<unsigned char>(c)))
      compact += c;
  compact.insert(8, "-");
  return compact + "-" + std::to_string(++seq_);
}

caf::error test_runner_state::check(const run_spec& spec) {
  caf::error err;
  if (shutting_down_)
    err = make_error(errc::shutting_down, "the runner is stopping");
  else if (spec.script.empty())
    err = make_error(errc::invalid_argument, "script is empty");
  else
    err = check_run_spec(spec);
  if (err)
    ++refused_;
  return err;
}

run_record test_runner_state::admit(const run_spec& spec, std::string path) {
  run_record rec;
  rec.run_id = next_run_id();
  rec.state = run_state::queued;
  rec.script = spec.script;
  rec.path = std::move(path);
  rec.args = spec.args;
  rec.bin = spec.bin;
  rec.topology = spec.topology;
  rec.topology_file = spec.topology_file;
  rec.cookie = cookie_base_ + "-" + rec.run_id;
  rec.enqueued_at = caf::make_timestamp();
  if (!spec.log.empty())
    rec.log = spec.log;
  else if (!cfg_.logs_dir.empty())
    rec.log = (fs::path{cfg_.logs_dir} / (rec.run_id + ".log")).string();
  return rec;
}

watch_job test_runner_state::make_job(
  const run_record& rec, const run_spec& spec) const {
  watch_job job;
  job.run_id = rec.run_id;
  if (spec.use_shell)
    job.spec.argv = {"/bin/sh", rec.path};
  else
    job.spec.argv = {rec.path};
  // The watcher opens the script again and runs that very file.
  job.script = spec.script;
  job.roots = cfg_.roots;
  job.script_arg = spec.use_shell ? 1 : 0;
  job.spec.argv.insert(job.spec.argv.end(), spec.args.begin(), spec.args.end());
  job.spec.cwd = spec.cwd;
  job.spec.env = spec.env;
  job.spec.env["LABRT_RUN_ID"] = rec.run_id;
  job.spec.inherit_env = cfg_.inherit_env;
  job.spec.cookie = rec.cookie;
  job.log_path = rec.log;
  job.log_max_bytes = cfg_.log_max_bytes;
  auto timeout = spec.timeout_ms >= 0 ? spec.timeout_ms : cfg_.timeout_ms;
  job.timeout = std::chrono::milliseconds{timeout};
  job.grace = std::chrono::milliseconds{cfg_.grace_ms};
  return job;
}

json test_runner_state::reserve_fields(const run_record& rec) {
  return {{"run_id", rec.run_id}, {"args", rec.args}, {"pgid", nullptr},
    {"bin", text_or_null(rec.bin)}, {"topology", text_or_null(rec.topology)},
    {"topology_file", text_or_null(rec.topology_file)},
    {"started_at", nullptr}, {"log", text_or_null(rec.log)},
    // The end fields of an earlier run must not linger.
    {"exit_code", nullptr}, {"signal", nullptr}, {"duration_ms", nullptr},
    {"ended_at", nullptr}, {"timed_out", nullptr}, {"stopped_by", nullptr},
    {"leftovers", nullptr}, {"error", nullptr}};
}

json test_runner_state::start_fields(const run_record& rec) {
  return {{"pid", rec.pid}, {"pgid", rec.pgid}, {"script", rec.path},
    {"started_at", to_iso8601(rec.started_at)}};
}

json test_runner_state::end_fields(const run_record& rec) {
  json j = rec;
  return {{"exit_code", j["exit_code"]}, {"signal", j["signal"]},
    {"duration_ms", rec.duration_ms}, {"ended_at", j["ended_at"]},
    {"timed_out", rec.timed_out}, {"stopped_by", j["stopped_by"]},
    {"log", j["log"]}, {"leftovers", rec.leftovers}, {"error", j["error"]}};
}

void test_runner_state::close_unrun(run_record& rec, run_state state,
  std::string why) {
  rec.state = state;
  rec.error = std::move(why);
  rec.ended_at = caf::make_timestamp();
}

void test_runner_state::apply_start(run_record& rec, const run_started& start) {
  rec.pid = start.pid;
  rec.pgid = start.pgid;
  rec.started_at = start.at;
  if (!start.path.empty())
    rec.path = start.path; // what runs, checked at the spawn
  if (rec.state == run_state::starting)
    rec.state = run_state::running;
}

void test_runner_state::apply_end(run_record& rec, const run_ended& end) {
  rec.state = end.lost ? run_state::lost : run_state::finished;
  // An end read from a status file happened before we learnt of it.
  rec.ended_at = end.ended_at.time_since_epoch().count() != 0
                   ? end.ended_at
                   : caf::make_timestamp();
  rec.duration_ms = ms_between(rec.started_at, rec.ended_at);
  // A stop the runner asked for names who asked; an error noted while the
  // run went on stays in front of the end's own.
  auto by = std::move(rec.stopped_by);
  auto noted = std::move(rec.error);
  static_cast<run_end&>(rec) = end;
  if (!by.empty())
    rec.stopped_by = std::move(by);
  if (!noted.empty())
    rec.error = end.error.empty() ? noted : noted + "; " + end.error;
}

run_record test_runner_state::close_found(const found_run& found) {
  auto rec = found.rec;
  if (found.kind == found_run::finished && rec.pid == 0 && !found.end.lost) {
    close_unrun(rec, run_state::failed, found.end.error);
    return rec;
  }
  apply_end(rec, found.end);
  if (rec.started_at.time_since_epoch().count() == 0)
    rec.duration_ms = 0;
  return rec;
}

caf::expected<run_record> test_runner_state::cancel(const std::string& id) {
  for (auto i = queue_.begin(); i != queue_.end(); ++i) {
    if (i->first.run_id != id)
      continue;
    auto rec = std::move(i->first);
    queue_.erase(i);
    rec.state = run_state::cancelled;
    remember(rec);
    return rec;
  }
  if (current_ && current_->rec.run_id == id)
    return make_error(errc::invalid_argument,
      "run " + id + " is " + to_string(current_->rec.state)
        + ", not queued: stop it instead");
  return make_error(errc::not_found, "no queued run '" + id + "'");
}

caf::expected<run_record> test_runner_state::find(const std::string& id) const {
  if (current_ && current_->rec.run_id == id)
    return current_->rec;
  for (auto& [rec, spec] : queue_)
    if (rec.run_id == id)
      return rec;
  for (auto& rec : history_)
    if (rec.run_id == id)
      return rec;
  return make_error(errc::not_found, "no run '" + id + "'");
}

std::vector<run_record> test_runner_state::history(uint64_t n) const {
  std::vector<run_record> result;
  for (auto i = history_.rbegin(); i != history_.rend() && result.size() < n;
       ++i)
    result.push_back(*i);
  return result;
}

namespace {

/// Whether every word of `text` appears in the run's script, args, bin or
/// topology.
bool mentions_all(const run_record& rec, const std::string& text) {
  std::string hay = rec.script + " " + rec.bin + " " + rec.topology;
  for (auto& arg : rec.args)
    hay += " " + arg;
  std::istringstream words{text};
  for (std::string word; words >> word;)
    if (hay.find(word) == std::string::npos)
      return false;
  return true;
}

bool matches(const run_record& rec, const history_query& q) {
  return (q.script.empty() || rec.script == q.script)
         && (q.outcome.empty() || q.outcome == outcome_of(rec))
         && (q.since.time_since_epoch().count() == 0 || rec.ended_at >= q.since)
         && (q.until.time_since_epoch().count() == 0 || rec.ended_at < q.until)
         && (q.text.empty() || mentions_all(rec, q.text));
}

} // namespace

std::vector<run_record>
test_runner_state::history(const history_query& q) const {
  std::vector<run_record> result;
  auto i = history_.rbegin();
  if (!q.before.empty()) {
    while (i != history_.rend() && i->run_id != q.before)
      ++i;
    if (i != history_.rend())
      ++i; // Older than `before`, which the last page ended with.
  }
  for (; i != history_.rend() && result.size() < q.limit; ++i)
    if (matches(*i, q))
      result.push_back(*i);
  return result;
}

size_t test_runner_state::queue_bytes() const {
  size_t n = admitting_bytes_;
  for (auto& [rec, spec] : queue_)
    n += run_footprint(rec) + run_footprint(spec);
  return n;
}

caf::error test_runner_state::queue_room(const run_spec& spec) const {
  if (queue_.size() + admitting_ >= cfg_.queue_capacity)
    return make_error(errc::invalid_argument,
      "the queue is full (" + std::to_string(cfg_.queue_capacity) + " runs)");
  if (queue_bytes() + run_footprint(spec) > run_limits::max_queue_bytes)
    return make_error(errc::invalid_argument,
      "the queue is full (its runs hold "
        + std::to_string(run_limits::max_queue_bytes) + " bytes)");
  return {};
}

void test_runner_state::admitting(int n, size_t bytes) {
  if (n > 0) {
    ++admitting_;
    admitting_bytes_ += bytes;
  } else {
    --admitting_;
    admitting_bytes_ -= bytes;
  }
}

std::vector<run_record> test_runner_state::queued() const {
  std::vector<run_record> result;
  for (auto& [rec, spec] : queue_)
    result.push_back(rec);
  return result;
}

std::optional<queue_update> test_runner_state::queue_changed() {
  std::vector<std::string> ids;
  ids.reserve(queue_.size());
  for (auto& entry : queue_)
    ids.push_back(entry.first.run_id);
  if (ids == queue_seen_)
    return std::nullopt;
  queue_seen_ = std::move(ids);
  return queue_update{queued()};
}

void test_runner_state::remember(run_record rec) {
  if (auto i = waiters_.find(rec.run_id); i != waiters_.end()) {
    for (auto& rp : i->second)
      rp.deliver(rec);
    waiters_.erase(i);
  }
  history_bytes_ += run_footprint(rec);
  history_.push_back(std::move(rec));
  // The newest record stays even if it alone is over the bytes.
  while (history_.size() > 1
    && (history_.size() > cfg_.history_capacity
      || history_bytes_ > run_limits::max_history_bytes)) {
    history_bytes_ -= run_footprint(history_.front());
    history_.pop_front();
  }
}

void test_runner_state::count_end(const run_record& rec) {
  if (rec.state == run_state::failed)
    ++failed_;
  if (!rec.stopped_by.empty())
    ++stopped_;
  if (rec.timed_out)
    ++timed_out_;
}

json test_runner_state::metrics() const {
  return {{"running", current_.has_value()}, {"queued", queue_.size()},
    {"started", started_}, {"failed", failed_}, {"refused", refused_},
    {"stopped", stopped_}, {"timed_out", timed_out_}, {"batches", batches_},
    {"lines", lines_}, {"lines_dropped", lines_dropped_},
    {"subscribers", subs_.size()}, {"history", history_.size()},
    {"unsaved", unsaved_}};
}

} // namespace labrt
