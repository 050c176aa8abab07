// The generic key/value store actor, successor of ThreadSafeDict.
#pragma once

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

  /// `p`'s changes as database rows, with the revisions `apply` will give.
  std::vector<kv_write> writes_of(const plan& p) const;

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
