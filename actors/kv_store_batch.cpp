// The kv store's group commit: requests that arrive while a commit is in
// flight are committed together in the next one.
#include "actors/kv_store.hpp"

#include <algorithm>

namespace labrt {

const kv_store_state::slot*
kv_store_state::current(const std::string& key) const {
  if (auto i = ahead_.find(key); i != ahead_.end())
    return i->second.value ? &i->second : nullptr;
  auto i = slots_.find(key);
  return i == slots_.end() ? nullptr : &i->second;
}

void kv_store_state::stage(const plan& p) {
  for (auto& [key, value] : p.changes)
    ahead_[key] = slot{value, log_.revision() + ++ahead_changes_};
}

std::vector<std::string>
kv_store_state::current_keys(const std::string& prefix) const {
  std::vector<std::string> result;
  auto match = [&](const std::string& key) {
    return key.compare(0, prefix.size(), prefix) == 0;
  };
  for (auto& kvp : slots_)
    if (match(kvp.first) && ahead_.count(kvp.first) == 0)
      result.push_back(kvp.first);
  for (auto& [key, s] : ahead_)
    if (s.value && match(key))
      result.push_back(key);
  std::sort(result.begin(), result.end());
  return result;
}

std::vector<kv_write> kv_store_state::form_batch() {
  std::vector<kv_write> result;
  while (!waiting_.empty() && result.size() < max_batch) {
    auto req = std::move(waiting_.front());
    waiting_.pop_front();
    if (!req.planner) {
      if (result.empty())
        req.answer(nullptr);
      else
        batch_.push_back({std::move(req), plan{}});
      continue;
    }
    auto planned = req.planner();
    if (result.empty() && (!planned || planned->changes.empty())) {
      // Nothing to commit and nothing ahead of it: as without a database.
      if (planned)
        apply(*planned);
      req.answer(planned ? caf::expected<const plan*>{&*planned}
                         : caf::expected<const plan*>{planned.error()});
      continue;
    }
    if (planned) {
      auto writes = writes_of(*planned);
      result.insert(result.end(), std::make_move_iterator(writes.begin()),
                    std::make_move_iterator(writes.end()));
      stage(*planned);
    }
    batch_.push_back({std::move(req), std::move(planned)});
  }
  return result;
}

void kv_store_state::finish_batch(const caf::error& err) {
  ahead_.clear();
  ahead_changes_ = 0;
  auto batch = std::move(batch_);
  batch_.clear();
  for (auto& [req, planned] : batch) {
    if (!req.planner) {
      req.answer(nullptr);
    } else if (err) {
      // Even a refusal: it was judged against writes that did not happen.
      req.answer(err);
    } else if (!planned) {
      req.answer(planned.error());
    } else {
      apply(*planned);
      req.answer(&*planned);
    }
  }
}

} // namespace labrt
