// labrt-bench-durable: what the database costs.
//
//   labrt-bench-durable [--sets N] [--threads T] [--runs R] [--queries Q]
//                       [--dir DIR]
//
// 1. kv set latency through labrt::client, N sets (default 20000), from one
//    thread and then from T (default 8) at once, each on 100 keys of its
//    own: a runtime without a state_dir, then one with (every set committed
//    before it is answered), in the same run, same order.
// 2. The persistence actor alone at 1000 events/s for 10 s: service
//    transitions and run records (a start, then an end), each record's
//    commit timed.
// 3. History: R ended runs (default 100000) written to labrt.db, then Q
//    queries (default 1000) for a page of 100 through the client (runner ->
//    persistence actor -> SQLite): newest, by script, by outcome, a
//    `before` page deep in the history, and by words (through the trigram
//    index, and words under 3 characters by reading).
// DIR (default a new directory under /tmp) must be on the disk to measure.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "labrt/client.hpp"
#include "labrt/errc.hpp"
#include "labrt/runtime.hpp"
#include "actors/persistence.hpp"
#include "src/store_db.hpp"
#include "stats.hpp"

namespace {

using namespace labrt;
using bench::clock_type;
using bench::summarize;
using bench::summary;
using bench::us_since;

template <class F>
summary time_each(size_t n, F f) {
  std::vector<double> us;
  us.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto t0 = clock_type::now();
    f(i);
    us.push_back(us_since(t0));
  }
  return summarize(std::move(us));
}

void row(const char* what, const summary& f) {
  std::printf("| %s | %.1f | %.1f | %.1f |\n", what, f.p50, f.p99,
              f.max);
}

[[noreturn]] void die(const std::string& what, const caf::error& err) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), render(err).c_str());
  std::exit(1);
}

/// `threads` clients each make `n / threads` sets on their own 100 keys;
/// every set is timed.
summary kv_sets(const std::string& state_dir, size_t n, size_t threads) {
  runtime_config cfg;
  cfg.state_dir = state_dir;
  auto rt = runtime::make(cfg);
  if (!rt)
    die("runtime", rt.error());
  {
    client c{**rt};
    for (size_t i = 0; i < 1000; ++i) // warm-up
      static_cast<void>(c.kv().set("warm", static_cast<uint64_t>(i)));
  }
  std::vector<std::vector<double>> us(threads);
  std::vector<std::thread> clients;
  for (size_t t = 0; t < threads; ++t)
    clients.emplace_back([&, t] {
      client c{**rt};
      auto prefix = "t" + std::to_string(t) + "-key-";
      for (size_t i = 0; i < n / threads; ++i) {
        auto t0 = clock_type::now();
        auto rev = c.kv().set(prefix + std::to_string(i % 100),
                              json{{"i", i}, {"text", "some value"}});
        us[t].push_back(us_since(t0));
        if (!rev)
          die("set", rev.error());
      }
      release_thread_logger();
    });
  for (auto& th : clients)
    th.join();
  std::vector<double> all;
  for (auto& part : us)
    all.insert(all.end(), part.begin(), part.end());
  return summarize(std::move(all));
}

void fill_history(const std::string& dir, size_t runs) {
  auto db = store_db::open(dir);
  if (!db)
    die("open", db.error());
  // Filling is not what is measured: no syncs for it.
  if (auto err = db->exec("PRAGMA synchronous = OFF"))
    die("pragma", err);
  const char* scripts[] = {"link_test.sh", "qsfp_bringup.sh", "smoke.py",
                           "stress.sh"};
  auto t0 = caf::make_timestamp() - std::chrono::hours{24 * 30};
  for (size_t i = 0; i < runs; ++i) {
    run_record rec;
    rec.run_id = "r" + std::to_string(i);
    rec.state = run_state::finished;
    rec.script = scripts[i % 4];
    rec.args = {"--board", "b" + std::to_string(i % 50)};
    rec.topology = "t" + std::to_string(i % 7);
    rec.exit_code = i % 10 == 0 ? 1 : 0;
    rec.enqueued_at = t0 + std::chrono::seconds{i * 20};
    rec.started_at = rec.enqueued_at + std::chrono::seconds{1};
    rec.ended_at = rec.started_at + std::chrono::seconds{15};
    rec.log = dir + "/logs/" + rec.run_id + ".log";
    rec.out_bytes = 4096;
    if (auto err = db->put_run(rec))
      die("put_run", err);
  }
}

/// The persistence actor alone, fed `rate` events a second for `seconds`:
/// alternately a service transition (no answer awaited) and a run record
/// (a run's start, then its end, which also prunes), each record timed from
/// request to answer, which includes any transition queued ahead of it.
summary persistence_writes(const std::string& dir, size_t rate,
                           size_t seconds) {
  auto db = store_db::open(dir);
  if (!db)
    die("open", db.error());
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto writer = sys.spawn<caf::detached>(
    persistence, std::make_shared<store_db>(std::move(*db)),
    history_retention{});
  std::vector<double> us;
  {
    caf::scoped_actor self{sys};
    auto period = std::chrono::nanoseconds{std::chrono::seconds{1}} / rate;
    auto next = clock_type::now();
    run_record rec;
    for (size_t i = 0; i < rate * seconds; ++i) {
      std::this_thread::sleep_until(next += period);
      if (i % 2 == 0) {
        change_event ev;
        ev.source = "service";
        ev.key = "service-" + std::to_string(i % 20);
        ev.old_value = i % 4 == 0;
        ev.new_value = i % 4 != 0;
        ev.revision = i;
        ev.time = caf::make_timestamp();
        self->send(writer, std::move(ev));
        continue;
      }
      if (i % 4 == 1) { // a start
        rec = run_record{};
        rec.run_id = "w" + std::to_string(i);
        rec.state = run_state::running;
        rec.script = "smoke.py";
        rec.args = {"--board", "b" + std::to_string(i % 50)};
        rec.started_at = rec.enqueued_at = caf::make_timestamp();
      } else { // its end
        rec.state = run_state::finished;
        rec.exit_code = 0;
        rec.ended_at = caf::make_timestamp();
      }
      auto t0 = clock_type::now();
      self->request(writer, std::chrono::seconds{10}, atom::commit_v, rec)
        .receive([](bool) {},
                 [](caf::error& err) { die("run write", err); });
      us.push_back(us_since(t0));
    }
    self->send_exit(writer, caf::exit_reason::user_shutdown);
  }
  return summarize(std::move(us));
}

} // namespace

int main(int argc, char** argv) {
  size_t sets = 20000;
  size_t runs = 100000;
  size_t queries = 1000;
  size_t kv_threads = 8;
  std::string base;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--sets"))
      sets = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs"))
      runs = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--queries"))
      queries = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads"))
      kv_threads = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir"))
      base = argv[i + 1];
  }
  if (base.empty()) {
    char tmpl[] = "/tmp/labrt-bench-durable-XXXXXX";
    if (!::mkdtemp(tmpl))
      return 1;
    base = tmpl;
  }
  std::filesystem::create_directories(base + "/history");

  for (size_t threads : {size_t{1}, kv_threads}) {
    std::printf("## kv set through labrt::client, %zu thread(s), %zu sets\n\n",
                threads, sets);
    std::printf(
      "| runtime | p50 us | p99 us | max us |\n| --- | --- | --- | --- |\n");
    auto memory = kv_sets("", sets, threads);
    row("in memory (no state_dir)", memory);
    auto dir = base + "/kv" + std::to_string(threads);
    std::filesystem::create_directories(dir);
    auto durable = kv_sets(dir, sets, threads);
    row("durable (state_dir, WAL, synchronous=NORMAL)", durable);
    std::printf("\np50 ratio durable / memory: %.2f\n\n",
                durable.p50 / memory.p50);
  }

  std::printf("## the persistence actor at 1000 events/s for 10 s (half run "
              "records, half service transitions)\n\n");
  std::printf("| write | p50 us | p99 us | max us |\n| --- | --- | --- | --- |\n");
  std::filesystem::create_directories(base + "/writes");
  row("run record, request to answer", persistence_writes(base + "/writes",
                                                          1000, 10));
  std::printf("\n");

  std::printf("## history, %zu runs in labrt.db, pages of 100, %zu queries "
              "each\n\n",
              runs, queries);
  fill_history(base + "/history", runs);
  runtime_config cfg;
  cfg.state_dir = base + "/history";
  cfg.history.max_runs = 0; // keep all: pruning is not what is measured
  cfg.runner.roots = {base};
  auto rt = runtime::make(cfg);
  if (!rt)
    die("runtime", rt.error());
  client c{**rt};
  std::printf("| query | p50 us | p99 us | max us |\n| --- | --- | --- | --- |\n");
  auto page = [&](const char* what, history_query q) {
    q.limit = 100;
    row(what, time_each(queries, [&](size_t) {
          auto got = c.runner().history(q);
          if (!got || got->empty())
            die(what, got ? make_error(errc::not_found, "empty page")
                          : got.error());
        }));
  };
  page("newest", {});
  history_query q;
  q.script = "smoke.py";
  page("script=smoke.py", q);
  q = {};
  q.outcome = "failed";
  page("outcome=failed", q);
  q = {};
  q.before = "r" + std::to_string(runs / 2);
  page("before=<the middle run>", q);
  q = {};
  q.text = "qsfp";
  page("q=\"qsfp\" (index, a quarter of the runs)", q);
  q.text = "b17 t3";
  page("q=\"b17 t3\" (index, then reading)", q);
  q.text = "b7 t3";
  page("q=\"b7 t3\" (short words: reading)", q);
  std::filesystem::remove_all(base);
  return 0;
}
