#include "src/change_log.hpp"

#include <algorithm>

namespace labrt {

change_log::change_log(std::string source, size_t capacity)
  : source_(std::move(source)), capacity_(std::max<size_t>(capacity, 1)) {
  // nop
}

void change_log::set_capacity(size_t n) {
  capacity_ = std::max<size_t>(n, 1);
  while (ring_.size() > capacity_)
    ring_.pop_front();
}

namespace {

json_ptr share(json x) {
  return x.is_null() ? nullptr : std::make_shared<const json>(std::move(x));
}

json value_of(const json_ptr& x) {
  return x ? *x : json{};
}

} // namespace

uint64_t change_log::append(std::string key, json_ptr old_value,
                            json_ptr new_value) {
  if (ring_.size() == capacity_)
    ring_.pop_front();
  ring_.push_back(change_record{std::move(key), std::move(old_value),
                                std::move(new_value), ++revision_,
                                caf::make_timestamp()});
  if (observer_)
    observer_(ring_.back());
  return revision_;
}

uint64_t change_log::append(std::string key, json old_value, json new_value) {
  return append(std::move(key), share(std::move(old_value)),
                share(std::move(new_value)));
}

change_event change_log::event(const change_record& rec) const {
  return change_event{source_,       rec.key,      value_of(rec.old_value),
                      value_of(rec.new_value), rec.revision, rec.time};
}

std::vector<change_event> change_log::since(uint64_t rev) const {
  if (ring_.empty() || rev >= revision_)
    return {};
  // Revisions in the ring are contiguous, so the start is an index.
  auto skip = rev < oldest() ? 0 : rev - oldest() + 1;
  std::vector<change_event> result;
  result.reserve(ring_.size() - skip);
  for (auto i = ring_.begin() + static_cast<std::ptrdiff_t>(skip);
       i != ring_.end(); ++i)
    result.push_back(event(*i));
  return result;
}

json change_log::metrics() const {
  return {{"source", source_},     {"revision", revision_},
          {"reads", reads},        {"writes", writes},
          {"refused", refused},    {"history_size", ring_.size()},
          {"history_capacity", capacity_}};
}

} // namespace labrt
