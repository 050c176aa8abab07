// The durable kv store: the persistence actor, loading at start, commits
// before acknowledgements, and no revision handed out twice across kill -9.
#include <fstream>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/kv_store.hpp"
#include "actors/persistence.hpp"
#include "support.hpp"
#include "tests/proc_support.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

runtime_config durable(const temp_dir& dir) {
  runtime_config cfg;
  cfg.state_dir = dir.path;
  return cfg;
}

/// A database that cannot grow any more, as on a full disk.
std::shared_ptr<store_db> full_db(const temp_dir& dir) {
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  auto pages = db->query_int("PRAGMA page_count");
  REQUIRE(pages);
  REQUIRE(!db->exec("PRAGMA max_page_count = " + std::to_string(*pages)));
  return std::make_shared<store_db>(std::move(*db));
}

const std::string big = std::string(1 << 19, 'x'); // under the value limit

} // namespace

TEST_CASE("persistence state: a failed commit degrades the storage until "
          "one succeeds") {
  temp_dir dir;
  persistence_state st;
  st.db_ = full_db(dir);
  CHECK(st.health()["state"] == "ok");
  CHECK(st.commit_kv({kv_write{"a", "1", 1, false}}, 1) == uint64_t{1});
  auto failed = st.commit_kv({kv_write{"b", json(big).dump(), 2, false}}, 2);
  REQUIRE(!failed);
  CHECK(code_of(failed.error()) == errc::storage_failed);
  auto health = st.health();
  CHECK(health["state"] == "degraded");
  CHECK(health["failures"] == 1);
  CHECK(health["file"] == dir / "labrt.db");
  CHECK_THAT(health["error"].get<std::string>(),
             Catch::Contains("disk is full"));
  CHECK(st.commit_kv({kv_write{"b", "2", 2, false}}, 2) == uint64_t{2});
  CHECK(st.health()["state"] == "ok");
  CHECK(st.health()["commits"] == 2);
}

TEST_CASE("kv state: a plan changes nothing until applied") {
  kv_store_state st;
  REQUIRE(st.set("a", 1));
  auto p = st.plan_update(json{{"b", 2}, {"c", 3}});
  REQUIRE(p);
  CHECK(st.count() == 1);
  auto writes = st.writes_of(*p);
  REQUIRE(writes.size() == 2);
  CHECK(writes[0].revision == 2);
  CHECK(writes[1].revision == 3);
  st.apply(*p);
  CHECK(st.fetch("c").revision == 3);
  auto gone = st.plan_clear();
  CHECK(st.writes_of(gone).back().erased);
  CHECK(st.writes_of(gone).back().revision == 6);
}

TEST_CASE("the kv store and its revisions survive a restart") {
  temp_dir dir;
  uint64_t last = 0;
  {
    auto rt = start_runtime(durable(dir));
    client c{*rt};
    CHECK(value_of(c.kv().set("a", json{{"x", 1}})) == 1);
    CHECK(value_of(c.kv().update(json{{"b", 2}, {"gone", 0}})) == 3);
    CHECK(value_of(c.kv().erase("gone")));
    last = value_of(c.kv().merge_patch("a", json{{"y", 2}})).revision;
    CHECK(last == 5);
  }
  auto rt = start_runtime(durable(dir));
  client c{*rt};
  auto a = value_of(c.kv().fetch("a"));
  CHECK(a.value == json{{"x", 1}, {"y", 2}});
  CHECK(a.revision == 5);
  CHECK(value_of(c.kv().fetch("b")).revision == 2);
  CHECK_FALSE(value_of(c.kv().contains("gone")));
  CHECK(value_of(c.kv().snapshot()).revision == 5);
  // The numbering goes on: a conditional write on a reloaded revision works.
  CHECK(value_of(c.kv().set_if("a", 7, 5)) == 6);
  CHECK(value_of(c.kv().clear()) == 8);
}

TEST_CASE("a failed commit fails the write and changes nothing") {
  temp_dir dir;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto db = sys.spawn<caf::detached>(persistence, full_db(dir),
                                     history_retention{});
  auto kv = sys.spawn(durable_kv_store, limits{}, size_t{16}, kv_image{}, db);
  caf::scoped_actor self{sys};
  auto call = [&](auto... xs) {
    caf::expected<uint64_t> result{uint64_t{0}};
    self->request(kv, deadline, xs...)
      .receive([&](uint64_t rev) { result = rev; },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  };
  CHECK(value_of(call(atom::set_v, std::string{"a"}, json{1})) == 1);
  auto failed = call(atom::set_v, std::string{"b"}, json(big));
  CHECK(error_of(failed) == errc::storage_failed);
  CHECK_THAT(message_of(failed.error()), Catch::Contains("disk is full"));
  self->request(kv, deadline, atom::fetch_v, std::string{"b"})
    .receive([](const kv_entry& e) { CHECK_FALSE(e.exists); },
             [](caf::error& err) { FAIL(render(err)); });
  // The revision it would have had is still free.
  CHECK(value_of(call(atom::set_v, std::string{"b"}, json{2}))== 2);
  self->request(db, deadline, atom::storage_v)
    .receive([](const json& h) { CHECK(h["failures"] == 1); },
             [](caf::error& err) { FAIL(render(err)); });
  self->send_exit(kv, caf::exit_reason::user_shutdown);
  self->send_exit(db, caf::exit_reason::user_shutdown);
}

TEST_CASE("a corrupt database is a start error naming the file") {
  temp_dir dir;
  {
    std::ofstream out{dir / "labrt.db"};
    out << std::string(8192, '#');
  }
  auto rt = runtime::make(durable(dir));
  REQUIRE(!rt);
  CHECK(code_of(rt.error()) == errc::storage_failed);
  CHECK_THAT(message_of(rt.error()), Catch::Contains(dir / "labrt.db")
                                       && Catch::Contains("not a database"));
}

TEST_CASE("no revision is handed out twice across a kill -9") {
  temp_dir dir;
  // The child writes until killed and reports each acknowledged revision.
  auto child = fork_child([&](int fd) {
    auto rt = runtime::make(durable(dir));
    if (!rt)
      return 3;
    client c{**rt};
    for (uint64_t i = 0;; ++i) {
      auto rev = c.kv().set("k" + std::to_string(i % 50), i);
      if (!rev || ::write(fd, &*rev, sizeof(*rev)) != sizeof(*rev))
        return 4;
    }
  });
  auto pid = child.pid;
  auto from_child = child.from_child.get();
  std::vector<uint64_t> acked;
  uint64_t rev = 0;
  while (acked.size() < 300 && ::read(from_child, &rev, sizeof rev) == sizeof rev)
    acked.push_back(rev);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  // Revisions acknowledged after the parent stopped counting are drained.
  while (::read(from_child, &rev, sizeof rev) == sizeof rev)
    acked.push_back(rev);
  REQUIRE(acked.size() >= 300);
  auto rt = start_runtime(durable(dir));
  client c{*rt};
  auto snap = value_of(c.kv().snapshot());
  CHECK(snap.revision >= acked.back());
  CHECK(snap.entries.size() == 50);
  // Every acknowledged write is there: each key holds its last value.
  for (auto& e : snap.entries) {
    auto i = std::stoull(e.key.substr(1));
    CHECK(e.value.get<uint64_t>() % 50 == i);
    CHECK(e.revision == e.value.get<uint64_t>() + 1);
  }
  auto next = value_of(c.kv().set("after", true));
  CHECK(next > acked.back());
  CHECK(next == snap.revision + 1);
}

// -- runs -------------------------------------------------------------------

namespace {

runtime_config durable_runner(const temp_dir& dir) {
  auto cfg = durable(dir);
  cfg.runner.roots = {scripts_dir};
  cfg.runner.logs_dir = dir / "logs";
  cfg.runner.inherit_env = {"PATH"};
  return cfg;
}

run_record run_to_end(client& c, const std::string& script,
                      std::vector<std::string> args = {}) {
  run_spec spec;
  spec.script = script;
  spec.args = std::move(args);
  auto rec = value_of(c.runner().start(spec));
  return value_of(c.runner().wait(rec.run_id, std::chrono::seconds{60}));
}

} // namespace

TEST_CASE("the run history and the logs survive a restart") {
  temp_dir dir;
  run_record first;
  run_record second;
  {
    auto rt = start_runtime(durable_runner(dir));
    client c{*rt};
    first = run_to_end(c, "exit_with.sh", {"3"});
    second = run_to_end(c, "both_streams.sh");
    CHECK(value_of(c.services().set_status("qsfp_service", true)) > 0);
  }
  {
    auto rt = start_runtime(durable_runner(dir));
    client c{*rt};
    auto runs = value_of(c.runner().history(history_query{}));
    REQUIRE(runs.size() == 2);
    CHECK(runs[0].run_id == second.run_id);
    CHECK(runs[1].run_id == first.run_id);
    CHECK(runs[1].exit_code == 3);
    CHECK(std::string{outcome_of(runs[1])} == "failed");
    history_query failed;
    failed.outcome = "failed";
    CHECK(value_of(c.runner().history(failed)).size() == 1);
    // By id, as GET /api/test/logs?run=ID asks: the log file is still there.
    auto rec = value_of(c.runner().get(first.run_id));
    CHECK(rec.log == first.log);
    CHECK(std::filesystem::exists(rec.log));
    CHECK(value_of(c.runner().history(1)).front().run_id == second.run_id);
    CHECK(error_of(c.runner().get("no-such-run")) == errc::not_found);
  }
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  CHECK(db->query_int("SELECT count(*) FROM service_transitions"
                      " WHERE entry = 'qsfp_service'")
        == 1);
}

TEST_CASE("retention prunes the oldest runs and their logs") {
  temp_dir dir;
  auto cfg = durable_runner(dir);
  cfg.history.max_runs = 2;
  auto rt = start_runtime(cfg);
  client c{*rt};
  auto oldest = run_to_end(c, "exit_with.sh");
  REQUIRE(std::filesystem::exists(oldest.log));
  run_to_end(c, "exit_with.sh");
  auto newest = run_to_end(c, "exit_with.sh");
  auto runs = value_of(c.runner().history(history_query{}));
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].run_id == newest.run_id);
  CHECK_FALSE(std::filesystem::exists(oldest.log));
  CHECK(std::filesystem::exists(newest.log));
  // The runner's own memory still knows the run until it restarts.
  CHECK(value_of(c.runner().get(oldest.run_id)).run_id == oldest.run_id);
}

TEST_CASE("the write-ahead log is checkpointed beside the writer and starts over") {
  temp_dir dir;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  auto store = sys.spawn<caf::detached>(
    persistence, std::make_shared<store_db>(std::move(*db)), history_retention{});
  caf::scoped_actor self{sys};
  auto commit = [&](uint64_t rev, std::string value) {
    std::vector<kv_write> w{{"k" + std::to_string(rev), std::move(value), rev, false}};
    self->request(store, deadline, atom::commit_v, w, rev)
      .receive([&](uint64_t got) { CHECK(got == rev); },
               [](caf::error& err) { FAIL(render(err)); });
  };
  auto storage = [&] {
    json result;
    self->request(store, deadline, atom::storage_v)
      .receive([&](json& h) { result = std::move(h); },
        [](caf::error& err) { FAIL(render(err)); });
    return result;
  };
  // Past SQLite's checkpoint threshold (1000 pages of 4 KiB).
  uint64_t rev = 0;
  while (storage()["wal_pages"] < persistence_state::checkpoint_pages)
    commit(++rev, json(std::string(100 * 1024, 'x')).dump());
  // The checkpointer copies the log; the first commit after it starts the
  // log over (a commit while it copies would add what it has not copied).
  REQUIRE(eventually([&] { return storage()["checkpoints"] == 1; }));
  commit(++rev, "1");
  auto after = storage();
  CHECK(after["wal_pages"] < 10);
  CHECK_FALSE(after.contains("checkpoint_error"));
  self->send_exit(store, caf::exit_reason::user_shutdown);
}

TEST_CASE("a log past its bound after a checkpoint is copied by the writer") {
  // As when writes never paused while the checkpointer copied: what they
  // added is left, and the log cannot start over.
  temp_dir dir;
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  persistence_state st;
  st.db_ = std::make_shared<store_db>(std::move(*db));
  uint64_t rev = 0;
  auto commit = [&](std::string value) {
    std::vector<kv_write> w{
      {"k" + std::to_string(++rev), std::move(value), rev, false}};
    REQUIRE(st.commit_kv(w, rev));
  };
  while (st.db_->wal_pages() < persistence_state::max_wal_pages)
    commit(json(std::string(100 * 1024, 'x')).dump());
  commit("1");
  REQUIRE(st.db_->wal_pages() >= persistence_state::max_wal_pages);
  st.end_checkpoint({});
  commit("1");
  CHECK(st.db_->wal_pages() < 10);
  CHECK(st.health()["checkpoints"] == 1);
  CHECK_FALSE(st.health().contains("checkpoint_error"));
}
