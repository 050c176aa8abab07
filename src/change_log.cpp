#include "change_log.hpp"

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

uint64_t change_log::append(std::string key, json old_value, json new_value) {
  if (ring_.size() == capacity_)
    ring_.pop_front();
  ring_.push_back(change_event{source_, std::move(key), std::move(old_value),
                               std::move(new_value), ++revision_,
                               caf::make_timestamp()});
  if (observer_)
    observer_(ring_.back());
  return revision_;
}

std::vector<change_event> change_log::since(uint64_t rev) const {
  if (ring_.empty() || rev >= revision_)
    return {};
  // Revisions in the ring are contiguous, so the start is an index.
  auto skip = rev < oldest() ? 0 : rev - oldest() + 1;
  return {ring_.begin() + static_cast<std::ptrdiff_t>(skip), ring_.end()};
}

json change_log::metrics() const {
  return {{"source", source_},     {"revision", revision_},
          {"reads", reads},        {"writes", writes},
          {"refused", refused},    {"history_size", ring_.size()},
          {"history_capacity", capacity_}};
}

} // namespace labrt
