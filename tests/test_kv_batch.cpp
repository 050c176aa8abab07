// The durable kv store's group commit: writes that queue behind a commit
// share the next one, each answered only after the commit that holds it;
// and how often the persistence actor prunes a large history.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/kv_store.hpp"
#include "actors/persistence.hpp"
#include "support.hpp"
#include "tests/proc_support.hpp"

using namespace labrt;
using namespace labrt::test;

namespace {

using plan = kv_store_state::plan;

/// What one queued request was answered.
struct answer {
  bool done = false;
  caf::error err;
  size_t changes = 0;
};

/// Queues a write planned by `planner`; its answer lands in `out`.
template <class Planner>
void queue_write(kv_store_state& st, answer& out, Planner planner) {
  st.waiting_.push_back({planner, [&out](caf::expected<const plan*> p) {
                           out.done = true;
                           if (p)
                             out.changes = (*p)->changes.size();
                           else
                             out.err = p.error();
                         }});
}

/// A persistence actor and a durable kv store over `db`, stopped on exit.
struct durable_pair {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  persistence_actor db;
  kv_store_actor kv;

  explicit durable_pair(std::shared_ptr<store_db> file) {
    auto image = file->load_kv();
    REQUIRE(image);
    db = sys.spawn<caf::detached>(persistence, std::move(file),
                                  history_retention{});
    kv = sys.spawn(durable_kv_store, limits{}, size_t{16}, std::move(*image),
                   db);
  }

  ~durable_pair() {
    caf::anon_send_exit(kv, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(db, caf::exit_reason::user_shutdown);
  }

  /// Sends `n` sets at once, key i getting `value(i)`, then collects every
  /// answer: the revision, or the error.
  template <class Value>
  std::vector<caf::expected<uint64_t>> burst(size_t n, Value value) {
    caf::scoped_actor self{sys};
    std::vector<decltype(self->request(kv, deadline, atom::set_v,
                                       std::string{}, json{}))>
      sent;
    for (size_t i = 0; i < n; ++i)
      sent.push_back(self->request(kv, deadline, atom::set_v,
                                   "k" + std::to_string(i), value(i)));
    std::vector<caf::expected<uint64_t>> result;
    for (auto& handle : sent)
      handle.receive([&](uint64_t rev) { result.emplace_back(rev); },
                     [&](caf::error& err) { result.emplace_back(err); });
    return result;
  }
};

std::shared_ptr<store_db> open_db(const temp_dir& dir) {
  auto db = store_db::open(dir.path);
  REQUIRE(db);
  return std::make_shared<store_db>(std::move(*db));
}

} // namespace

TEST_CASE("a batch plans each write on the ones before it and answers after "
          "its commit") {
  kv_store_state st;
  REQUIRE(st.set("a", 1));
  answer set_a, cas_a, erase_b, clear_all;
  bool read_after_set = false;
  queue_write(st, set_a, [&] { return st.plan_set("a", 2); });
  st.waiting_.push_back({nullptr, [&](caf::expected<const plan*>) {
                           read_after_set = st.fetch("a").value == 2;
                         }});
  // Planned against the set before it: revision 2, not 1.
  queue_write(st, cas_a, [&] { return st.plan_set("a", 3, uint64_t{2}); });
  queue_write(st, erase_b, [&] { return st.plan_erase("b"); });
  queue_write(st, clear_all,
              [&]() -> caf::expected<plan> { return st.plan_clear(); });
  auto writes = st.form_batch();
  REQUIRE(writes.size() == 3);
  CHECK(writes[0].revision == 2);
  CHECK(writes[1].revision == 3);
  CHECK(writes[2].erased);
  CHECK(writes[2].revision == 4);
  CHECK_FALSE(set_a.done); // nothing answered before the commit
  CHECK(st.fetch("a").value == 1);
  st.finish_batch(caf::error{});
  CHECK(set_a.done);
  CHECK(read_after_set);
  CHECK(cas_a.done);
  CHECK_FALSE(cas_a.err);
  CHECK(erase_b.changes == 0);
  CHECK(clear_all.changes == 1);
  CHECK(st.count() == 0);
  CHECK(st.snapshot().revision == 4);
}

TEST_CASE("a failed batch fails every write in it and changes nothing") {
  kv_store_state st;
  REQUIRE(st.set("a", 1));
  answer set_b, set_c, refused;
  queue_write(st, set_b, [&] { return st.plan_set("b", 1); });
  queue_write(st, set_c, [&] { return st.plan_set("c", 1); });
  queue_write(st, refused, [&] { return st.plan_set("a", 0, uint64_t{7}); });
  REQUIRE(st.form_batch().size() == 2);
  st.finish_batch(make_error(errc::storage_failed, "disk is full"));
  for (auto* x : {&set_b, &set_c, &refused}) {
    CHECK(x->done);
    CHECK(code_of(x->err) == errc::storage_failed);
  }
  CHECK(st.count() == 1);
  CHECK(st.snapshot().revision == 1);
  // The revisions it would have used are free for the next batch.
  answer again;
  queue_write(st, again, [&] { return st.plan_set("b", 2); });
  auto writes = st.form_batch();
  REQUIRE(writes.size() == 1);
  CHECK(writes[0].revision == 2);
}

TEST_CASE("many concurrent sets are all acknowledged and all durable after a "
          "restart") {
  temp_dir dir;
  constexpr size_t n = 300;
  {
    durable_pair pair{open_db(dir)};
    auto got = pair.burst(n, [](size_t i) { return json(i); });
    std::vector<uint64_t> revisions;
    for (auto& rev : got)
      revisions.push_back(value_of(rev));
    std::sort(revisions.begin(), revisions.end());
    for (size_t i = 0; i < n; ++i)
      CHECK(revisions[i] == i + 1);
  }
  auto image = open_db(dir)->load_kv();
  REQUIRE(image);
  CHECK(image->revision == n);
  REQUIRE(image->rows.size() == n);
  for (auto& row : image->rows)
    CHECK(row.value == std::stoul(row.key.substr(1)));
}

TEST_CASE("under a failing commit each set is either acknowledged and on disk "
          "or failed and nowhere") {
  temp_dir dir;
  auto file = open_db(dir);
  auto pages = file->query_int("PRAGMA page_count");
  REQUIRE(pages);
  REQUIRE(!file->exec("PRAGMA max_page_count = " + std::to_string(*pages)));
  const std::string big(1 << 19, 'x');
  constexpr size_t n = 50;
  std::vector<caf::expected<uint64_t>> got;
  std::vector<kv_entry> seen;
  {
    durable_pair pair{file};
    file.reset();
    got = pair.burst(n, [&](size_t i) { return i == n / 2 ? json(big) : json(i); });
    caf::scoped_actor self{pair.sys};
    for (size_t i = 0; i < n; ++i)
      self->request(pair.kv, deadline, atom::fetch_v, "k" + std::to_string(i))
        .receive([&](const kv_entry& e) { seen.push_back(e); },
                 [](caf::error& err) { FAIL(render(err)); });
  }
  CHECK(error_of(got[n / 2]) == errc::storage_failed);
  auto image = open_db(dir)->load_kv();
  REQUIRE(image);
  REQUIRE(seen.size() == n);
  size_t acknowledged = 0;
  for (size_t i = 0; i < n; ++i) {
    auto key = "k" + std::to_string(i);
    auto on_disk = std::any_of(image->rows.begin(), image->rows.end(),
                               [&](auto& row) { return row.key == key; });
    if (got[i]) {
      ++acknowledged;
      CHECK(seen[i].exists);
      CHECK(seen[i].revision == *got[i]);
      CHECK(on_disk);
    } else {
      CHECK(error_of(got[i]) == errc::storage_failed);
      CHECK_FALSE(seen[i].exists);
      CHECK_FALSE(on_disk);
    }
  }
  CHECK(image->revision == acknowledged);
}

TEST_CASE("a large retention prunes every max_runs / 100 ends, at most 1% "
          "over") {
  temp_dir dir;
  persistence_state st;
  st.db_ = open_db(dir);
  st.retention_.max_runs = 200;
  auto ended = [&](int i) {
    run_record rec;
    rec.run_id = "r" + std::to_string(i);
    rec.state = run_state::finished;
    rec.exit_code = 0;
    rec.ended_at = caf::make_timestamp();
    REQUIRE(st.save_run(rec));
  };
  auto kept = [&] { return value_of(st.db_->query_int("SELECT count(*) FROM runs")); };
  for (int i = 1; i <= 201; ++i)
    ended(i);
  CHECK(kept() == 201); // the 200th end pruned, the 201st waits
  ended(202);
  CHECK(kept() == 200);
  CHECK(st.pruned_runs_ == 2);
  // The cut by age is made at every end: a run that ended 2 days ago goes
  // at the next end, not 2 ends later.
  st.retention_.max_days = 1;
  REQUIRE(!st.db_->exec("UPDATE runs SET ended_at = 0 WHERE run_id = 'r202'"));
  ended(203);
  CHECK(kept() == 200);
  CHECK(value_of(st.db_->query_int(
          "SELECT count(*) FROM runs WHERE run_id = 'r202'"))
        == 0);
}
