// store_db's queue: the runs waiting their turn, kept across restarts.
#include "src/store_db.hpp"

#include <sqlite3.h>

#include "src/store_db_statements.hpp"

namespace labrt {

caf::error store_db::put_queued(const run_record& rec, const run_spec& spec) {
  auto rc = stmts_->queue_insert.bind(1, rec.run_id)
              .bind(2, json(rec).dump())
              .bind(3, json(spec).dump())
              .run();
  if (rc != SQLITE_DONE)
    return fail("cannot queue run " + rec.run_id, rc);
  return {};
}

caf::expected<std::vector<queued_run>> store_db::load_queue() {
  // A run the runs table holds left the queue; its entry outlived it only
  // if put_run failed after the run started.
  sqlite_stmt rows;
  auto rc = sqlite_stmt::prepare(
    db_,
    "SELECT run_id, record, spec FROM queue"
    " WHERE run_id NOT IN (SELECT run_id FROM runs) ORDER BY seq",
    rows);
  if (rc != SQLITE_OK)
    return fail("cannot read the queue", rc);
  std::vector<queued_run> result;
  while ((rc = rows.step()) == SQLITE_ROW) {
    auto rec = json::parse(rows.text_at(1), nullptr, false);
    auto spec = json::parse(rows.text_at(2), nullptr, false);
    if (!rec.is_object() || !spec.is_object())
      return fail("cannot read queued run " + rows.text_at(0), SQLITE_CORRUPT);
    try {
      result.push_back({rec.get<run_record>(), spec.get<run_spec>()});
    } catch (const json::exception& e) {
      return fail("cannot read queued run " + rows.text_at(0) + " ("
                    + e.what() + ")",
                  SQLITE_CORRUPT);
    }
  }
  if (rc != SQLITE_DONE)
    return fail("cannot read the queue", rc);
  return result;
}

} // namespace labrt
