// store_db's runs on real files: a run's row from start to end, history
// queries and pruning, the queue, and an upgrade from schema 2.
#include <catch2/catch.hpp>

#include <string>

#include "labrt/errc.hpp"
#include "src/store_db.hpp"
#include "tests/proc_support.hpp"
#include "tests/store_support.hpp"

using namespace labrt;
using labrt::test::raw_query;
using labrt::test::temp_dir;

namespace {

run_record a_run(const std::string& id, const std::string& script,
                 int32_t exit_code, caf::timestamp ended) {
  run_record rec;
  rec.run_id = id;
  rec.script = script;
  rec.args = {"--board", "b" + id};
  rec.topology = "t2";
  rec.state = run_state::finished;
  rec.exit_code = exit_code;
  rec.enqueued_at = ended - std::chrono::seconds{2};
  rec.started_at = ended - std::chrono::seconds{1};
  rec.ended_at = ended;
  rec.log = "/nonexistent/" + id + ".log";
  return rec;
}

std::vector<std::string> ids_of(const caf::expected<std::vector<run_record>>& runs) {
  REQUIRE(runs);
  std::vector<std::string> result;
  for (auto& rec : *runs)
    result.push_back(rec.run_id);
  return result;
}

using ids = std::vector<std::string>;

ids ids_of_queue(const caf::expected<std::vector<queued_run>>& queue) {
  REQUIRE(queue);
  ids result;
  for (auto& q : *queue)
    result.push_back(q.rec.run_id);
  return result;
}

} // namespace

TEST_CASE("a run's row is written at its start and rewritten at its end") {
  temp_dir dir;
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  auto rec = a_run("r1", "smoke.sh", 0, caf::make_timestamp());
  rec.state = run_state::running;
  rec.pid = ::getpid(); // alive: its start time is read and kept
  rec.ended_at = {};
  rec.exit_code = -1;
  REQUIRE(!db->put_run(rec));
  CHECK(db->find_run("r1")->state == run_state::running);
  CHECK(ids_of(db->history({})).empty()); // not ended: no history yet
  CHECK(*db->query_int("SELECT pid_start FROM runs") > 0);
  rec.state = run_state::finished;
  rec.exit_code = 3;
  rec.ended_at = caf::make_timestamp();
  rec.stopped_by = "request";
  REQUIRE(!db->put_run(rec));
  auto back = db->find_run("r1");
  REQUIRE(back);
  CHECK(back->exit_code == 3);
  CHECK(back->args == rec.args);
  CHECK(back->stopped_by == "request");
  CHECK(back->log == rec.log);
  CHECK(db->query_int("SELECT count(*) FROM runs") == 1);
  CHECK(*db->query_int("SELECT pid_start FROM runs") > 0);
  CHECK(code_of(db->find_run("nope").error()) == errc::not_found);
}

TEST_CASE("history queries filter and page like the in-memory history") {
  temp_dir dir;
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  auto t0 = caf::make_timestamp();
  auto at = [&](int s) { return t0 + std::chrono::seconds{s}; };
  REQUIRE(!db->put_run(a_run("r1", "a.sh", 0, at(1))));
  REQUIRE(!db->put_run(a_run("r2", "b.sh", 1, at(2))));
  REQUIRE(!db->put_run(a_run("r3", "a.sh", 1, at(3))));
  REQUIRE(!db->put_run(a_run("r4", "a.sh", 0, at(4))));
  history_query q;
  CHECK(ids_of(db->history(q)) == ids{"r4", "r3", "r2", "r1"});
  q.limit = 2;
  CHECK(ids_of(db->history(q)) == ids{"r4", "r3"});
  q.before = "r3";
  CHECK(ids_of(db->history(q)) == ids{"r2", "r1"});
  q = {};
  q.script = "a.sh";
  q.outcome = "failed";
  CHECK(ids_of(db->history(q)) == ids{"r3"});
  q = {};
  q.text = "br2 t2";
  CHECK(ids_of(db->history(q)) == ids{"r2"});
  q = {};
  q.since = at(2);
  q.until = at(4);
  CHECK(ids_of(db->history(q)) == ids{"r3", "r2"});
  q = {};
  q.before = "unknown";
  CHECK(ids_of(db->history(q)).empty());
}

TEST_CASE("history text finds substrings through the index and by reading") {
  temp_dir dir;
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  auto t0 = caf::make_timestamp();
  for (int i = 1; i <= 4; ++i)
    REQUIRE(!db->put_run(a_run("r" + std::to_string(i), "a.sh", 0,
                               t0 + std::chrono::seconds{i})));
  auto odd = a_run("r5", "b.sh", 0, t0 + std::chrono::seconds{5});
  odd.args = {"日本語", "say \"hi\""};
  REQUIRE(!db->put_run(odd));
  REQUIRE(!db->put_run(odd)); // rewritten, as at a run's end: found once
  auto found = [&](std::string text, uint64_t limit = 100,
                   std::string before = "") {
    history_query q;
    q.text = std::move(text);
    q.limit = limit;
    q.before = std::move(before);
    return ids_of(db->history(q));
  };
  CHECK(found("br3") == ids{"r3"});             // 3 characters: the index
  CHECK(found("oard") == ids{"r4", "r3", "r2", "r1"}); // inside a word
  CHECK(found("-board", 2) == ids{"r4", "r3"});  // a page, newest first
  CHECK(found("-board", 2, "r3") == ids{"r2", "r1"});
  CHECK(found("board br") == ids{"r4", "r3", "r2", "r1"}); // and by reading
  CHECK(found("BR3").empty());                   // case counts, as before
  CHECK(found("日本語") == ids{"r5"});          // 3 characters, 9 bytes
  CHECK(found("日本") == ids{"r5"});            // 2 characters: read
  CHECK(found("\"hi\"") == ids{"r5"});          // quotes are text
  CHECK(found("b.sh \"hi") == ids{"r5"});
  CHECK(found("hi\" OR r1").empty());           // no query syntax
  CHECK(found("board*").empty());
  CHECK(found("NEAR(board").empty());
  CHECK(found(std::string{"boa\0rd", 6}).empty()); // a NUL is text too
  history_query q;
  q.text = "-board";
  q.script = "a.sh";
  q.since = t0 + std::chrono::seconds{2};
  q.until = t0 + std::chrono::seconds{4};
  CHECK(ids_of(db->history(q)) == ids{"r3", "r2"}); // with the other filters
  q.outcome = "failed";
  CHECK(ids_of(db->history(q)).empty());
  // Rewritten with other words (the newest row: its seq is reused), the
  // old words find nothing.
  odd.args = {"other"};
  REQUIRE(!db->put_run(odd));
  CHECK(found("日本語").empty());
  CHECK(found("other") == ids{"r5"});
  // Pruned runs leave the index.
  REQUIRE(db->prune(2, 0, t0 + std::chrono::seconds{6}));
  CHECK(found("-board") == ids{"r4"});
  CHECK(found("br1").empty());
}

TEST_CASE("pruning keeps the newest runs and drops old service transitions") {
  temp_dir dir;
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  auto now = caf::make_timestamp();
  auto days_ago = [&](int d) { return now - std::chrono::hours{24 * d}; };
  REQUIRE(!db->put_run(a_run("old", "a.sh", 0, days_ago(10))));
  REQUIRE(!db->put_run(a_run("mid", "a.sh", 0, days_ago(5))));
  REQUIRE(!db->put_run(a_run("new1", "a.sh", 0, days_ago(1))));
  REQUIRE(!db->put_run(a_run("new2", "a.sh", 0, now)));
  change_event ev{"service", "qsfp_service", false, true, 1, days_ago(8)};
  REQUIRE(!db->put_transition(ev));
  ev.time = days_ago(2);
  REQUIRE(!db->put_transition(ev));
  SECTION("by age") {
    auto gone = db->prune(0, 7, now);
    REQUIRE(gone);
    CHECK(gone->runs == 1);
    CHECK(gone->logs == std::vector<std::string>{"/nonexistent/old.log"});
    CHECK(gone->transitions == 1);
    CHECK(ids_of(db->history({})) == ids{"new2", "new1", "mid"});
  }
  SECTION("by count: transitions older than every kept run go too") {
    auto gone = db->prune(2, 0, now);
    REQUIRE(gone);
    CHECK(gone->runs == 2);
    CHECK(gone->logs.size() == 2);
    CHECK(gone->transitions == 2);
    CHECK(ids_of(db->history({})) == ids{"new2", "new1"});
  }
  SECTION("nothing to prune") {
    auto gone = db->prune(10, 30, now);
    REQUIRE(gone);
    CHECK(gone->runs == 0);
    CHECK(db->query_int("SELECT count(*) FROM service_transitions") == 2);
  }
}

TEST_CASE("the queue keeps its order and a run's write takes it off") {
  temp_dir dir;
  auto queued = [](const std::string& id) {
    auto rec = a_run(id, "smoke.sh", -1, caf::make_timestamp());
    rec.state = run_state::queued;
    rec.ended_at = {};
    run_spec spec;
    spec.script = "smoke.sh";
    spec.args = rec.args;
    spec.env = {{"BOARD", id}};
    spec.timeout_ms = 5000;
    return queued_run{rec, spec};
  };
  auto queue_ids = [&](store_db& db, std::vector<const char*> add) {
    for (auto id : add) {
      auto q = queued(id);
      REQUIRE(!db.put_queued(q.rec, q.spec));
    }
    return ids_of_queue(db.load_queue());
  };
  {
    auto db = store_db::open(dir.path);
    REQUIRE(db);
    CHECK(queue_ids(*db, {"q1", "q2", "q3"}) == ids{"q1", "q2", "q3"});
    // q2 starts, q3 is cancelled: their records take them off the queue.
    auto started = queued("q2").rec;
    started.state = run_state::running;
    REQUIRE(!db->put_run(started));
    auto cancelled = queued("q3").rec;
    cancelled.state = run_state::cancelled;
    REQUIRE(!db->put_run(cancelled));
    CHECK(queue_ids(*db, {"q4"}) == ids{"q1", "q4"});
  }
  // A database of schema 2 (before the queue) is migrated.
  temp_dir old;
  auto v2 = std::string{store_db::migration(1)} + store_db::migration(2)
            + "PRAGMA user_version = 2;";
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open((old / "labrt.db").c_str(), &raw) == SQLITE_OK);
  CHECK(sqlite3_exec(raw, v2.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  auto db = store_db::open(old.path);
  REQUIRE(db);
  CHECK(raw_query(old / "labrt.db", "PRAGMA user_version")
        == std::to_string(store_db::latest_version()));
  CHECK(queue_ids(*db, {}).empty());
  CHECK(queue_ids(*db, {"q5", "q6"}) == ids{"q5", "q6"});
  auto back = db->load_queue();
  REQUIRE(back);
  CHECK((*back)[0].rec.state == run_state::queued);
  CHECK((*back)[0].spec.env.at("BOARD") == "q5");
  CHECK((*back)[0].spec.timeout_ms == 5000);
  CHECK((*back)[1].rec.args == queued("q6").rec.args);
  // The same run queued twice is refused: one entry a run.
  auto again = queued("q5");
  CHECK(code_of(db->put_queued(again.rec, again.spec)) == errc::storage_failed);
}

TEST_CASE("a database of schema 2 is upgraded with its runs readable") {
  temp_dir dir;
  auto path = dir / "labrt.db";
  // As the previous release left it: schema 2, a run only in its record.
  auto v2 = std::string{store_db::migration(1)} + store_db::migration(2)
            + "PRAGMA user_version = 2;";
  auto rec = a_run("old", "smoke.sh", 0, caf::make_timestamp());
  rec.path = "/lab/smoke.sh";
  rec.cookie = "c-1";
  rec.duration_ms = 1500;
  rec.out_bytes = 12;
  rec.lines_dropped = 3;
  rec.error = "a warning";
  v2 += "INSERT INTO runs(run_id, state, final, outcome, script, args, bin,"
        " topology, words, enqueued_at, started_at, ended_at, pid, pid_start,"
        " exit_code, stopped_by, timed_out, log, log_bytes, record) VALUES("
        "'old', 'finished', 1, 'passed', 'smoke.sh', '[\"--board\",\"bold\"]',"
        " '', 't2', 'smoke.sh  t2 --board bold', 1, 2, 3, 0, 0, 0, '', 0, '',"
        " 12, '" + json(rec).dump() + "');";
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
  CHECK(sqlite3_exec(raw, v2.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  CHECK(raw_query(path, "PRAGMA user_version")
        == std::to_string(store_db::latest_version()));
  auto back = db->find_run("old");
  REQUIRE(back);
  CHECK(back->path == "/lab/smoke.sh");
  CHECK(back->cookie == "c-1");
  CHECK(back->duration_ms == 1500);
  CHECK(back->out_bytes == 12);
  CHECK(back->lines_dropped == 3);
  CHECK(back->error == "a warning");
  CHECK(back->args == std::vector<std::string>{"--board", "bold"});
  CHECK(back->exit_code == 0);
  history_query q;
  q.text = "bold";
  CHECK(ids_of(db->history(q)) == ids{"old"});
  // New writes fill the new columns and read back whole.
  rec.run_id = "new";
  rec.signal = 9;
  rec.signal_name = "SIGKILL";
  rec.exit_code = -1;
  rec.core_dumped = true;
  REQUIRE(!db->put_run(rec));
  auto fresh = db->find_run("new");
  REQUIRE(fresh);
  CHECK(json(*fresh) == json(rec));
}
