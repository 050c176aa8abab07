// The generic key/value store actor, successor of ThreadSafeDict.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "src/change_log.hpp"
#include "src/store_db.hpp"
#include "actors/feed.hpp"
#include "actors/persistence.hpp"
#include "labrt/config.hpp"
#include "labrt/interfaces.hpp"

namespace labrt {

/// State of the kv store: JSON values under string keys, a revision per key
/// and for the store. Every mutation validates first and applies after, so a
/// refused call changes nothing. What leaves is a copy by construction.
/// Values are immutable once stored and shared with the history ring, so a
/// change costs no copy; lookups hash, listings sort.
struct kv_store_state {
  static inline const char* name = "labrt.kv_store";

  struct slot {
    json_ptr value; ///< Never null.
    uint64_t revision;
  };
  using slot_map = std::unordered_map<std::string, slot>;

  /// A checked mutation, not yet applied: its changes in order, each a key
  /// and its new value (null: erased). Applied, change i gets revision
  /// `log_.revision() + 1 + i`. The actor commits a plan to the database
  /// before it applies it, so nothing the store shows is missing on disk.
  struct plan {
    std::vector<std::pair<std::string, json_ptr>> changes;
  };

  /// The value of `key`, or `fallback`.
  json get(const std::string& key, const json& fallback);

  /// `key` with its revision; `exists` false if absent.
  kv_entry fetch(const std::string& key);

  /// Sets `key`; with `expected`, only if its revision matches (0: absent,
  /// any_revision: present).
  caf::expected<uint64_t> set(const std::string& key, json value,
                              std::optional<uint64_t> expected = {});

  /// Sets every member of the object `items`, all or none.
  caf::expected<uint64_t> update(json items);

  /// Removes `key`; with `expected`, only if its revision matches.
  caf::expected<bool> erase(const std::string& key,
                            std::optional<uint64_t> expected = {});

  /// Applies a merge patch or JSON Patch to the value of `key` (null if
  /// absent) and stores the result, or changes nothing if any step fails;
  /// with `expected`, only if the key's revision matches, as for `set`.
  caf::expected<kv_entry> patch(const std::string& key, const json& doc,
                                patch_format format,
                                std::optional<uint64_t> expected = {});

  /// The checks of set, update, erase, patch and clear, and what each
  /// would change. An erase of an absent key plans nothing.
  caf::expected<plan> plan_set(const std::string& key, json value,
                               std::optional<uint64_t> expected = {});
  caf::expected<plan> plan_update(json items);
  caf::expected<plan> plan_erase(const std::string& key,
                                 std::optional<uint64_t> expected = {});
  caf::expected<plan> plan_patch(const std::string& key, const json& doc,
                                 patch_format format,
                                 std::optional<uint64_t> expected = {});
  plan plan_clear(const std::string& prefix = {});

  /// Makes `p` the store's state: one write, a change per entry.
  void apply(const plan& p);

  /// `p`'s changes as database rows, with the revisions `apply` will give
  /// (after the changes of the batch being formed).
  std::vector<kv_write> writes_of(const plan& p) const;

  // -- group commit (with a database) ----------------------------------------

  /// A request that arrived while a commit was in flight, kept in arrival
  /// order. A write plans when its batch forms, against the store as that
  /// batch's earlier writes leave it; a read (no planner) answers in turn.
  struct request {
    std::function<caf::expected<plan>()> planner; ///< Empty: a read.
    /// Gets the applied plan (a read: null), or the write's error.
    std::function<void(caf::expected<const plan*>)> answer;
  };

  /// A request of the batch in flight, with its plan.
  struct staged {
    request req;
    caf::expected<plan> planned;
  };

  /// True while a commit is in flight or requests wait for one: a new
  /// request then queues behind them.
  bool busy() const noexcept {
    return committing_ || !waiting_.empty();
  }

  /// Takes waiting requests into one batch: answers those that need no
  /// commit and come before the first write at once, plans the rest in
  /// order, and returns the rows to commit (none: nothing to commit).
  std::vector<kv_write> form_batch();

  /// Ends the batch in flight: committed (no `err`), each write is applied
  /// and answered in order, reads in between see the writes before them;
  /// failed, every write answers `err` and nothing changes.
  void finish_batch(const caf::error& err);

  /// Most changes in one batch; a single larger request goes alone.
  static constexpr size_t max_batch = 512;

  std::deque<request> waiting_;
  std::vector<staged> batch_;
  bool committing_ = false;

  /// Starts from what the database holds; before any change.
  void load(kv_image image);

  /// `key` as stored; it must exist.
  kv_entry entry(const std::string& key) const;

  bool contains(const std::string& key);
  uint64_t count();
  std::vector<std::string> keys();
  json values();
  json items();
  /// The entries whose key starts with `prefix` (all for ""), at one
  /// revision.
  kv_snapshot snapshot(const std::string& prefix = {});
  /// Removes the keys that start with `prefix` (all for ""): one change
  /// each, in key order. Returns the new revision.
  uint64_t clear(const std::string& prefix = {});

  limits bounds_;
  slot_map slots_;
  change_log log_{"kv"};
  feed feed_;
  /// The database writer; null without a state_dir (memory only).
  persistence_actor db_;

private:
  /// `key` as the batch being formed leaves it; null if absent.
  const slot* current(const std::string& key) const;
  /// Records `p`'s changes as ahead of the store, for the next plans.
  void stage(const plan& p);
  /// The keys `current` holds that start with `prefix`, in key order.
  std::vector<std::string> current_keys(const std::string& prefix) const;

  /// The keys the batch being formed changes (null value: erased), and how
  /// many changes it holds.
  slot_map ahead_;
  uint64_t ahead_changes_ = 0;

  caf::error refuse(caf::error err);
  caf::error check_expected(const std::string& key,
                            std::optional<uint64_t> expected);
  void store(const std::string& key, json_ptr value);
  void remove(const std::string& key);
  /// The slots whose key starts with `prefix`, in key order.
  std::vector<const slot_map::value_type*>
  sorted(const std::string& prefix = {}) const;
};

/// Spawns with `self->state` configured from `bounds` and `history`.
kv_store_actor::behavior_type
kv_store(kv_store_actor::stateful_pointer<kv_store_state> self, limits bounds,
         size_t history);

/// The same, loaded from `image` and committing every change to `db`
/// before it is applied and acknowledged.
kv_store_actor::behavior_type
durable_kv_store(kv_store_actor::stateful_pointer<kv_store_state> self,
                 limits bounds, size_t history, kv_image image,
                 persistence_actor db);

} // namespace labrt
