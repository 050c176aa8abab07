#include "actors/kv_store.hpp"

#include <algorithm>

#include "src/validate.hpp"
#include "labrt/errc.hpp"

namespace labrt {

// -- state --------------------------------------------------------------------

caf::error kv_store_state::refuse(caf::error err) {
  ++log_.refused;
  return err;
}

caf::error kv_store_state::check_expected(const std::string& key,
                                          std::optional<uint64_t> expected) {
  if (!expected)
    return caf::none;
  auto s = current(key);
  auto now = s == nullptr ? uint64_t{0} : s->revision;
  if (*expected == any_revision ? now != 0 : now == *expected)
    return caf::none;
  if (now == 0)
    return refuse(make_conflict("key '" + key + "' does not exist", 0));
  return refuse(make_conflict("key '" + key + "' is at revision "
                                + std::to_string(now) + ", not "
                                + std::to_string(*expected),
                              now));
}

void kv_store_state::store(const std::string& key, json_ptr value) {
  auto [i, added] = slots_.try_emplace(key, slot{nullptr, 0});
  auto& s = i->second;
  auto old_value = std::exchange(s.value, std::move(value));
  s.revision = log_.append(key, std::move(old_value), s.value);
}

void kv_store_state::remove(const std::string& key) {
  auto i = slots_.find(key);
  if (i == slots_.end())
    return;
  auto old_value = std::move(i->second.value);
  slots_.erase(i);
  log_.append(key, std::move(old_value), nullptr);
}

void kv_store_state::apply(const plan& p) {
  ++log_.writes;
  for (auto& [key, value] : p.changes)
    if (value)
      store(key, value);
    else
      remove(key);
}

std::vector<kv_write> kv_store_state::writes_of(const plan& p) const {
  std::vector<kv_write> result;
  result.reserve(p.changes.size());
  auto revision = log_.revision() + ahead_changes_;
  for (auto& [key, value] : p.changes)
    result.push_back(kv_write{key, value ? value->dump() : std::string{},
                              ++revision, value == nullptr});
  return result;
}

void kv_store_state::load(kv_image image) {
  for (auto& row : image.rows)
    slots_[row.key] = slot{std::make_shared<const json>(std::move(row.value)),
                           row.revision};
  log_.start_at(image.revision);
}

std::vector<const kv_store_state::slot_map::value_type*>
kv_store_state::sorted(const std::string& prefix) const {
  std::vector<const slot_map::value_type*> result;
  result.reserve(prefix.empty() ? slots_.size() : 0);
  for (auto& kvp : slots_)
    if (kvp.first.compare(0, prefix.size(), prefix) == 0)
      result.push_back(&kvp);
  std::sort(result.begin(), result.end(),
            [](auto* x, auto* y) { return x->first < y->first; });
  return result;
}

json kv_store_state::get(const std::string& key, const json& fallback) {
  ++log_.reads;
  auto i = slots_.find(key);
  return i == slots_.end() ? fallback : *i->second.value;
}

kv_entry kv_store_state::fetch(const std::string& key) {
  ++log_.reads;
  auto i = slots_.find(key);
  if (i == slots_.end())
    return {key, nullptr, 0, false};
  return {key, *i->second.value, i->second.revision, true};
}

caf::expected<kv_store_state::plan>
kv_store_state::plan_set(const std::string& key, json value,
                         std::optional<uint64_t> expected) {
  if (auto err = check_key(key, bounds_))
    return refuse(std::move(err));
  if (auto err = check_value(value, bounds_))
    return refuse(std::move(err));
  if (auto err = check_expected(key, expected))
    return err;
  plan result;
  result.changes.emplace_back(key,
                              std::make_shared<const json>(std::move(value)));
  return result;
}

caf::expected<kv_store_state::plan> kv_store_state::plan_update(json items) {
  if (!items.is_object())
    return refuse(make_error(errc::wrong_type,
                             std::string{"update takes a JSON object, not "}
                               + type_name(items)));
  for (auto& [key, value] : items.items()) {
    if (auto err = check_key(key, bounds_))
      return refuse(std::move(err));
    if (auto err = check_value(value, bounds_))
      return refuse(make_error(code_of(err),
                               "key '" + key + "': " + message_of(err)));
  }
  plan result;
  for (auto& [key, value] : items.items())
    result.changes.emplace_back(key,
                                std::make_shared<const json>(std::move(value)));
  return result;
}

caf::expected<kv_store_state::plan>
kv_store_state::plan_erase(const std::string& key,
                           std::optional<uint64_t> expected) {
  if (auto err = check_expected(key, expected))
    return err;
  plan result;
  if (current(key) != nullptr)
    result.changes.emplace_back(key, nullptr);
  return result;
}

caf::expected<kv_store_state::plan>
kv_store_state::plan_patch(const std::string& key, const json& doc,
                           patch_format format,
                           std::optional<uint64_t> expected) {
  if (auto err = check_key(key, bounds_))
    return refuse(std::move(err));
  if (auto err = check_expected(key, expected))
    return err;
  auto s = current(key);
  json result = s == nullptr ? json{} : *s->value;
  if (format == patch_format::merge_patch) {
    result.merge_patch(doc);
  } else {
    if (!doc.is_array())
      return refuse(make_error(errc::patch_failed,
                               std::string{"a JSON Patch is an array, not "}
                                 + type_name(doc)));
    // nlohmann reports malformed or failing ops (including `test`) by throwing.
    try {
      result = result.patch(doc);
    } catch (const json::exception& ex) {
      return refuse(make_error(errc::patch_failed,
                               "patch of '" + key + "' failed: " + ex.what()));
    }
  }
  if (auto err = check_value(result, bounds_))
    return refuse(std::move(err));
  plan p;
  p.changes.emplace_back(key, std::make_shared<const json>(std::move(result)));
  return p;
}

kv_store_state::plan kv_store_state::plan_clear(const std::string& prefix) {
  // Erasures are logged in key order, as before the store was hashed.
  plan result;
  for (auto& key : current_keys(prefix))
    result.changes.emplace_back(key, nullptr);
  return result;
}

kv_entry kv_store_state::entry(const std::string& key) const {
  auto& s = slots_.at(key);
  return kv_entry{key, *s.value, s.revision, true};
}

caf::expected<uint64_t> kv_store_state::set(const std::string& key, json value,
                                            std::optional<uint64_t> expected) {
  auto p = plan_set(key, std::move(value), expected);
  if (!p)
    return std::move(p.error());
  apply(*p);
  return log_.revision();
}

caf::expected<uint64_t> kv_store_state::update(json items) {
  auto p = plan_update(std::move(items));
  if (!p)
    return std::move(p.error());
  apply(*p);
  return log_.revision();
}

caf::expected<bool> kv_store_state::erase(const std::string& key,
                                          std::optional<uint64_t> expected) {
  auto p = plan_erase(key, expected);
  if (!p)
    return std::move(p.error());
  if (p->changes.empty())
    return false;
  apply(*p);
  return true;
}

caf::expected<kv_entry>
kv_store_state::patch(const std::string& key, const json& doc,
                      patch_format format, std::optional<uint64_t> expected) {
  auto p = plan_patch(key, doc, format, expected);
  if (!p)
    return std::move(p.error());
  apply(*p);
  return entry(key);
}

bool kv_store_state::contains(const std::string& key) {
  ++log_.reads;
  return slots_.count(key) > 0;
}

uint64_t kv_store_state::count() {
  ++log_.reads;
  return slots_.size();
}

std::vector<std::string> kv_store_state::keys() {
  ++log_.reads;
  std::vector<std::string> result;
  result.reserve(slots_.size());
  for (auto* kvp : sorted())
    result.push_back(kvp->first);
  return result;
}

json kv_store_state::values() {
  ++log_.reads;
  auto result = json::array();
  for (auto* kvp : sorted())
    result.push_back(*kvp->second.value);
  return result;
}

json kv_store_state::items() {
  ++log_.reads;
  auto result = json::object(); // sorts by itself
  for (auto& [key, s] : slots_)
    result[key] = *s.value;
  return result;
}

kv_snapshot kv_store_state::snapshot(const std::string& prefix) {
  ++log_.reads;
  kv_snapshot result{log_.revision(), {}};
  auto slots = sorted(prefix);
  result.entries.reserve(slots.size());
  for (auto* kvp : slots)
    result.entries.push_back(
      kv_entry{kvp->first, *kvp->second.value, kvp->second.revision, true});
  return result;
}

uint64_t kv_store_state::clear(const std::string& prefix) {
  apply(plan_clear(prefix));
  return log_.revision();
}

} // namespace labrt
