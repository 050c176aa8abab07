// store_db's runs and service transitions: the history and its retention.
#include "src/store_db.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <sstream>

#include <sqlite3.h>

#include "labrt/errc.hpp"
#include "src/proc_stat.hpp"
#include "src/store_db_statements.hpp"

namespace labrt {

namespace {

int64_t ns_of(caf::timestamp t) {
  return static_cast<int64_t>(t.time_since_epoch().count());
}

/// What ?q searches, as the in-memory history does.
std::string words_of(const run_record& rec) {
  auto result = rec.script + " " + rec.bin + " " + rec.topology;
  for (auto& arg : rec.args)
    result += " " + arg;
  return result;
}

/// UTF-8 characters in `word` (the trigram tokenizer counts those).
size_t characters(const std::string& word) {
  return static_cast<size_t>(std::count_if(word.begin(), word.end(),
    [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

/// `word` as an FTS5 phrase: in double quotes, its own doubled, so that
/// nothing in it is query syntax.
std::string fts_phrase(const std::string& word) {
  std::string result = "\"";
  for (char c : word) {
    if (c == '"')
      result += '"';
    result += c;
  }
  return result + '"';
}

int64_t to_int(uint64_t x) {
  return static_cast<int64_t>(
    std::min<uint64_t>(x, std::numeric_limits<int64_t>::max()));
}

caf::timestamp time_at(const sqlite_stmt& row, int col) {
  return caf::timestamp{caf::timespan{row.int_at(col)}};
}

int32_t int32_at(const sqlite_stmt& row, int col) {
  return static_cast<int32_t>(row.int_at(col));
}

uint64_t uint_at(const sqlite_stmt& row, int col) {
  return static_cast<uint64_t>(std::max<int64_t>(row.int_at(col), 0));
}

/// The run in the current row of a `SELECT run_columns`.
caf::expected<run_record> run_of(const sqlite_stmt& row) {
  run_record r;
  r.run_id = row.text_at(0);
  r.state = run_state_of(row.text_at(1));
  r.script = row.text_at(2);
  auto args = json::parse(row.text_at(3), nullptr, false);
  if (!args.is_array())
    return make_error(errc::storage_failed, "run " + r.run_id + ": bad args");
  for (auto& arg : args)
    if (arg.is_string())
      r.args.push_back(arg.get<std::string>());
  r.bin = row.text_at(4);
  r.topology = row.text_at(5);
  r.enqueued_at = time_at(row, 6);
  r.started_at = time_at(row, 7);
  r.ended_at = time_at(row, 8);
  r.pid = int32_at(row, 9);
  r.exit_code = row.null_at(10) ? -1 : int32_at(row, 10);
  r.signal = row.null_at(11) ? 0 : int32_at(row, 11);
  r.stopped_by = row.text_at(12);
  r.timed_out = row.int_at(13) != 0;
  r.log = row.text_at(14);
  r.path = row.text_at(15);
  r.topology_file = row.text_at(16);
  r.pgid = int32_at(row, 17);
  r.cookie = row.text_at(18);
  r.duration_ms = row.int_at(19);
  r.signal_name = row.text_at(20);
  r.core_dumped = row.int_at(21) != 0;
  r.leftovers = int32_at(row, 22);
  r.out_bytes = uint_at(row, 23);
  r.err_bytes = uint_at(row, 24);
  r.log_cut_bytes = uint_at(row, 25);
  r.lines_dropped = uint_at(row, 26);
  r.error = row.text_at(27);
  return r;
}

} // namespace

const char* const store_db::run_columns =
  "run_id, state, script, args, bin, topology, enqueued_at, started_at,"
  " ended_at, pid, exit_code, signal, stopped_by, timed_out, log, path,"
  " topology_file, pgid, cookie, duration_ms, signal_name, core_dumped,"
  " leftovers, out_bytes, err_bytes, log_cut_bytes, lines_dropped, error";

caf::error store_db::put_run(const run_record& rec) {
  auto& s = *stmts_;
  if (auto rc = s.begin.run(); rc != SQLITE_DONE)
    return rollback(fail("cannot begin a run write", rc));
  // The pid's start time tells the pid apart from a later process that
  // reuses it; it can only be read while the run lives, so it is kept.
  int64_t pid_start = 0;
  s.run_pid_start.bind(1, rec.run_id);
  if (s.run_pid_start.step() == SQLITE_ROW)
    pid_start = s.run_pid_start.int_at(0);
  s.run_pid_start.reset();
  proc_stat stat;
  if (pid_start == 0 && rec.pid > 0 && !has_ended(rec.state)
      && read_proc_stat(rec.pid, stat))
    pid_start = static_cast<int64_t>(stat.start_ticks);
  auto rc = s.run_delete.bind(1, rec.run_id).run();
  if (rc == SQLITE_DONE) // It left the queue: started, failed or cancelled.
    rc = s.queue_delete.bind(1, rec.run_id).run();
  if (rc == SQLITE_DONE) {
    auto& ins = s.run_insert;
    ins.bind(1, rec.run_id)
      .bind(2, std::string{to_string(rec.state)})
      .bind(3, int64_t{has_ended(rec.state) ? 1 : 0})
      .bind(4, std::string{outcome_of(rec)})
      .bind(5, rec.script)
      .bind(6, json(rec.args).dump())
      .bind(7, rec.bin)
      .bind(8, rec.topology)
      .bind(9, words_of(rec))
      .bind(10, ns_of(rec.enqueued_at))
      .bind(11, ns_of(rec.started_at))
      .bind(12, ns_of(rec.ended_at))
      .bind(13, int64_t{rec.pid})
      .bind(14, pid_start)
      .bind(17, rec.stopped_by)
      .bind(18, int64_t{rec.timed_out ? 1 : 0})
      .bind(19, rec.log)
      .bind(20, to_int(rec.out_bytes + rec.err_bytes - std::min(
                          rec.log_cut_bytes, rec.out_bytes + rec.err_bytes)))
      .bind(21, json(rec).dump())
      .bind(22, rec.path)
      .bind(23, rec.topology_file)
      .bind(24, int64_t{rec.pgid})
      .bind(25, rec.cookie)
      .bind(26, rec.duration_ms)
      .bind(27, rec.signal_name)
      .bind(28, int64_t{rec.core_dumped ? 1 : 0})
      .bind(29, int64_t{rec.leftovers})
      .bind(30, to_int(rec.out_bytes))
      .bind(31, to_int(rec.err_bytes))
      .bind(32, to_int(rec.log_cut_bytes))
      .bind(33, to_int(rec.lines_dropped))
      .bind(34, rec.error);
    if (rec.exit_code >= 0)
      ins.bind(15, int64_t{rec.exit_code});
    if (rec.signal != 0)
      ins.bind(16, int64_t{rec.signal});
    rc = ins.run();
  }
  if (rc == SQLITE_DONE)
    rc = s.commit.run();
  if (rc != SQLITE_DONE)
    return rollback(fail("cannot write run " + rec.run_id, rc));
  return {};
}

caf::expected<run_record> store_db::find_run(const std::string& id) {
  auto& find = stmts_->run_find;
  find.bind(1, id);
  auto rc = find.step();
  if (rc == SQLITE_DONE) {
    find.reset();
    return make_error(errc::not_found, "no run '" + id + "'");
  }
  if (rc != SQLITE_ROW) {
    find.reset();
    return fail("cannot read run " + id, rc);
  }
  auto rec = run_of(find);
  find.reset();
  if (!rec)
    return fail("cannot read run " + id, SQLITE_CORRUPT);
  return rec;
}

caf::expected<std::vector<run_record>>
store_db::history(const history_query& q) {
  // Only the filters a query uses are in its SQL, so each shape of query
  // gets the plan of its own index.
  // Words of 3 characters or more are found through the trigram index,
  // newest first, which stops at the page's end; shorter ones by reading.
  std::string match;
  std::vector<std::string> short_words;
  std::istringstream words{q.text};
  for (std::string word; words >> word;) {
    // FTS5 reads its query only up to a NUL; instr() compares whole.
    if (characters(word) < 3 || word.find('\0') != std::string::npos) {
      short_words.push_back(std::move(word));
      continue;
    }
    match += (match.empty() ? "" : " AND ") + fts_phrase(word);
  }
  // With words for the index, it drives: its rowid is the run's seq, and
  // a bound on it (a page's `before`) is one SQLite does not pass over the
  // join from runs.seq.
  std::string seq = match.empty() ? "seq" : "runs_words.rowid";
  std::string sql = std::string{"SELECT "} + run_columns
                    + (match.empty() ? " FROM runs"
                                     : " FROM runs_words JOIN runs"
                                       " ON runs.seq = runs_words.rowid")
                    + " WHERE final = 1";
  std::vector<std::string> texts;
  std::vector<int64_t> numbers;
  std::vector<bool> is_text;
  auto text = [&](const std::string& clause, const std::string& x) {
    sql += clause;
    texts.push_back(x);
    is_text.push_back(true);
  };
  auto number = [&](const std::string& clause, int64_t x) {
    sql += clause;
    numbers.push_back(x);
    is_text.push_back(false);
  };
  if (!match.empty())
    text(" AND runs_words MATCH ?", match);
  if (!q.script.empty())
    text(" AND script = ?", q.script);
  if (!q.outcome.empty())
    text(" AND outcome = ?", q.outcome);
  if (q.since.time_since_epoch().count() != 0)
    number(" AND ended_at >= ?", ns_of(q.since));
  if (q.until.time_since_epoch().count() != 0)
    number(" AND ended_at < ?", ns_of(q.until));
  if (!q.before.empty())
    text(" AND " + seq + " < (SELECT seq FROM runs WHERE run_id = ?)",
         q.before);
  for (auto& word : short_words)
    text(" AND instr(runs.words, ?) > 0", word);
  number(" ORDER BY " + seq + " DESC LIMIT ?", to_int(q.limit));
  sqlite_stmt stmt;
  auto rc = sqlite_stmt::prepare(db_, sql.c_str(), stmt);
  if (rc != SQLITE_OK)
    return fail("cannot query the history", rc);
  size_t t = 0;
  size_t n = 0;
  for (size_t i = 0; i < is_text.size(); ++i)
    if (is_text[i])
      stmt.bind(static_cast<int>(i + 1), texts[t++]);
    else
      stmt.bind(static_cast<int>(i + 1), numbers[n++]);
  std::vector<run_record> result;
  while ((rc = stmt.step()) == SQLITE_ROW) {
    auto rec = run_of(stmt);
    if (!rec)
      return fail("cannot read the history", SQLITE_CORRUPT);
    result.push_back(std::move(*rec));
  }
  if (rc != SQLITE_DONE)
    return fail("cannot query the history", rc);
  return result;
}

caf::error store_db::put_transition(const change_event& ev) {
  auto rc = stmts_->transition_insert.bind(1, ns_of(ev.time))
              .bind(2, ev.key)
              .bind(3, ev.old_value.dump())
              .bind(4, ev.new_value.dump())
              .bind(5, to_int(ev.revision))
              .run();
  if (rc != SQLITE_DONE)
    return fail("cannot record service entry " + ev.key, rc);
  return {};
}

caf::expected<store_db::pruned>
store_db::prune(uint64_t max_runs, uint64_t max_days, caf::timestamp now) {
  int64_t cutoff = 0; // Ended, or changed, before this: gone.
  if (max_days > 0)
    cutoff = ns_of(now - std::chrono::hours{24} * max_days);
  // The last seq beyond max_runs, and when the oldest run kept ended:
  // service transitions older than every kept run go with the runs.
  int64_t last_seq = 0;
  if (max_runs > 0) {
    auto seq = query_int("SELECT coalesce((SELECT seq FROM runs WHERE final = 1"
                         " ORDER BY seq DESC LIMIT 1 OFFSET "
                         + std::to_string(max_runs) + "), 0)");
    if (!seq)
      return seq.error();
    last_seq = *seq;
    if (last_seq > 0) {
      auto oldest = query_int("SELECT coalesce(min(ended_at), 0) FROM runs"
                              " WHERE final = 1 AND seq > "
                              + std::to_string(last_seq));
      if (!oldest)
        return oldest.error();
      cutoff = std::max(cutoff, *oldest);
    }
  }
  pruned result;
  if (cutoff == 0 && last_seq == 0)
    return result;
  auto where = " WHERE final = 1 AND (seq <= " + std::to_string(last_seq)
               + " OR ended_at < " + std::to_string(cutoff) + ")";
  if (auto rc = stmts_->begin.run(); rc != SQLITE_DONE)
    return rollback(fail("cannot begin pruning", rc));
  sqlite_stmt logs;
  auto rc = sqlite_stmt::prepare(
    db_, ("SELECT log FROM runs" + where + " AND log != ''").c_str(), logs);
  if (rc == SQLITE_OK)
    while ((rc = logs.step()) == SQLITE_ROW)
      result.logs.push_back(logs.text_at(0));
  if (rc == SQLITE_DONE)
    rc = sqlite3_exec(db_, ("DELETE FROM runs" + where).c_str(), nullptr,
                      nullptr, nullptr);
  result.runs = static_cast<uint64_t>(sqlite3_changes(db_));
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db_,
                      ("DELETE FROM service_transitions WHERE at < "
                       + std::to_string(cutoff))
                        .c_str(),
                      nullptr, nullptr, nullptr);
  result.transitions = static_cast<uint64_t>(sqlite3_changes(db_));
  if (rc == SQLITE_OK)
    rc = stmts_->commit.run();
  if (rc != SQLITE_DONE && rc != SQLITE_OK)
    return rollback(fail("cannot prune the history", rc));
  return result;
}

} // namespace labrt
