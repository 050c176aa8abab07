// The kv store's state (actors/kv_store.hpp, no actor system needed) under a
// fuzzed sequence of set, update, erase, merge patch, JSON Patch and clear,
// checked against a plain map after every step: a refused call changes
// nothing, revisions only grow (one per stored or erased key), the history
// holds the newest changes in order, and diff-then-patch reaches its target.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "actors/kv_store.hpp"
#include "labrt/errc.hpp"
#include "src/validate.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using labrt::json;

// Small bounds and history, so that limits and dropped history are reached.
constexpr size_t history = 8;
const labrt::limits bounds{16, 256};

struct model {
  std::map<std::string, json> values;
  std::map<std::string, uint64_t> revisions;
  uint64_t revision = 0;

  void store(const std::string& key, json value) {
    values[key] = std::move(value);
    revisions[key] = ++revision;
  }

  void erase(const std::string& key) {
    values.erase(key);
    revisions.erase(key);
    ++revision;
  }

  json current(const std::string& key) const {
    auto i = values.find(key);
    return i == values.end() ? json{} : i->second;
  }
};

std::string pick_key(FuzzedDataProvider& in) {
  static const char* common[] = {"a", "b", "c", "a/b", "~0", "x~1y"};
  if (in.ConsumeBool())
    return common[in.ConsumeIntegralInRange<size_t>(0, 5)];
  return in.ConsumeRandomLengthString(24); // maybe empty, long or not UTF-8
}

/// JSON text if it parses, else the bytes as a string (maybe not UTF-8).
json pick_value(FuzzedDataProvider& in) {
  auto text = in.ConsumeRandomLengthString(192);
  auto doc = json::parse(text, nullptr, false);
  return doc.is_discarded() ? json(text) : doc;
}

std::optional<uint64_t> pick_expected(FuzzedDataProvider& in, const model& m,
                                      const std::string& key) {
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0: return std::nullopt;
    case 1: {
      auto i = m.revisions.find(key);
      return i == m.revisions.end() ? 0 : i->second;
    }
    default: return in.ConsumeIntegralInRange<uint64_t>(0, m.revision + 1);
  }
}

bool conflicts(const model& m, const std::string& key,
               std::optional<uint64_t> expected) {
  auto i = m.revisions.find(key);
  return expected && *expected != (i == m.revisions.end() ? 0 : i->second);
}

void check_matches(labrt::kv_store_state& st, const model& m) {
  LABRT_FUZZ_CHECK(st.log_.revision() == m.revision);
  LABRT_FUZZ_CHECK(st.slots_.size() == m.values.size());
  for (auto& [key, slot] : st.slots_) {
    auto i = m.values.find(key);
    LABRT_FUZZ_CHECK(i != m.values.end() && *slot.value == i->second);
    LABRT_FUZZ_CHECK(slot.revision == m.revisions.at(key));
  }
  // The history: the newest changes, numbered without gaps, each key's
  // newest one carrying what the key holds now.
  auto held = st.log_.since(0);
  LABRT_FUZZ_CHECK(held.size() == std::min<uint64_t>(m.revision, history));
  std::map<std::string, const labrt::change_event*> newest;
  for (size_t n = 0; n < held.size(); ++n) {
    LABRT_FUZZ_CHECK(held[n].revision == m.revision - held.size() + n + 1);
    newest[held[n].key] = &held[n];
  }
  for (auto& [key, ev] : newest) {
    LABRT_FUZZ_CHECK(ev->new_value == m.current(key));
    if (m.values.count(key) > 0)
      LABRT_FUZZ_CHECK(ev->revision == m.revisions.at(key));
  }
}

/// One step; returns whether the store accepted it (and updates `m` then).
bool step(FuzzedDataProvider& in, labrt::kv_store_state& st, model& m) {
  auto key = pick_key(in);
  switch (in.ConsumeIntegralInRange(0, 6)) {
    case 0: {
      auto value = pick_value(in);
      auto expected = pick_expected(in, m, key);
      auto rev = st.set(key, value, expected);
      if (!rev)
        return false;
      LABRT_FUZZ_CHECK(!conflicts(m, key, expected));
      m.store(key, std::move(value));
      LABRT_FUZZ_CHECK(*rev == m.revision);
      return true;
    }
    case 1: {
      auto items = pick_value(in);
      if (in.ConsumeBool())
        items = json{{key, items}};
      auto rev = st.update(items);
      if (!rev)
        return false;
      LABRT_FUZZ_CHECK(items.is_object());
      for (auto& [k, v] : items.items())
        m.store(k, v);
      LABRT_FUZZ_CHECK(*rev == m.revision);
      return true;
    }
    case 2: {
      auto expected = pick_expected(in, m, key);
      auto erased = st.erase(key, expected);
      if (!erased)
        return false;
      LABRT_FUZZ_CHECK(!conflicts(m, key, expected));
      LABRT_FUZZ_CHECK(*erased == (m.values.count(key) > 0));
      if (*erased)
        m.erase(key);
      return true;
    }
    case 3: {
      auto doc = pick_value(in);
      auto entry = st.patch(key, doc, labrt::patch_format::merge_patch);
      if (!entry)
        return false;
      auto merged = m.current(key);
      merged.merge_patch(doc);
      auto twice = merged;
      twice.merge_patch(doc); // RFC 7386 patches are idempotent
      LABRT_FUZZ_CHECK(entry->value == merged && twice == merged);
      m.store(key, std::move(merged));
      LABRT_FUZZ_CHECK(entry->exists && entry->revision == m.revision);
      return true;
    }
    case 4: {
      auto doc = pick_value(in);
      auto entry = st.patch(key, doc, labrt::patch_format::json_patch);
      if (!entry)
        return false;
      LABRT_FUZZ_CHECK(entry->value == m.current(key).patch(doc));
      m.store(key, entry->value);
      LABRT_FUZZ_CHECK(entry->exists && entry->revision == m.revision);
      return true;
    }
    case 5: {
      // json::diff's patch, applied through the store, reaches the target.
      auto target = pick_value(in);
      auto ok = !labrt::check_key(key, bounds)
                && !labrt::check_value(target, bounds);
      auto entry = st.patch(key, json::diff(m.current(key), target),
                            labrt::patch_format::json_patch);
      LABRT_FUZZ_CHECK(static_cast<bool>(entry) == ok);
      if (!entry)
        return false;
      LABRT_FUZZ_CHECK(entry->value == target);
      m.store(key, std::move(target));
      return true;
    }
    default: {
      auto keys = m.values;
      for (auto& kvp : keys)
        m.erase(kvp.first);
      LABRT_FUZZ_CHECK(st.clear() == m.revision);
      return true;
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in{data, size};
  labrt::kv_store_state st;
  st.bounds_ = bounds;
  st.log_.set_capacity(history);
  model m;
  while (in.remaining_bytes() > 0) {
    auto refused = st.log_.refused;
    auto accepted = step(in, st, m);
    // A refused call is counted and changes nothing (m is left as it was).
    LABRT_FUZZ_CHECK(st.log_.refused == refused + (accepted ? 0 : 1));
    check_matches(st, m);
  }
  return 0;
}
