// The part every manager shares: revisions, a bounded history, counters.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "labrt/types.hpp"

namespace labrt {

/// A JSON value shared between a manager's state and its history; a null
/// pointer stands for JSON null.
using json_ptr = std::shared_ptr<const json>;

/// One held change. Values are shared, not copied: the kv store's current
/// value and the newest change of its key are the same object.
struct change_record {
  std::string key;
  json_ptr old_value;
  json_ptr new_value;
  uint64_t revision = 0;
  caf::timestamp time;
};

/// Numbers each change to a manager, keeps the most recent ones and hands each
/// to an observer (the actor's subscriber fan-out). Plain data: unit tests use
/// it without actors.
class change_log {
public:
  using observer = std::function<void(const change_record&)>;

  explicit change_log(std::string source, size_t capacity = 1024);

  /// Keeps at most `n` changes (at least 1); drops the oldest first.
  void set_capacity(size_t n);

  /// Called for every appended change, in revision order.
  void set_observer(observer f) {
    observer_ = std::move(f);
  }

  /// Continues the numbering after `rev` (a store loaded from disk); only
  /// before the first append.
  void start_at(uint64_t rev) noexcept {
    revision_ = rev;
  }

  /// Records a change under the next revision and returns that revision.
  uint64_t append(std::string key, json_ptr old_value, json_ptr new_value);

  /// The same for values the caller does not keep.
  uint64_t append(std::string key, json old_value, json new_value);

  /// `rec` as subscribers and history queries see it (copies the values).
  change_event event(const change_record& rec) const;

  /// The revision of the last change (0 before the first).
  uint64_t revision() const noexcept {
    return revision_;
  }

  /// The oldest revision still held (0 if none).
  uint64_t oldest() const noexcept {
    return ring_.empty() ? 0 : ring_.front().revision;
  }

  /// Whether every change after `rev` is still held.
  bool holds_since(uint64_t rev) const noexcept {
    return rev >= revision_ || (!ring_.empty() && rev + 1 >= oldest());
  }

  /// The changes after `rev` that are still held, oldest first.
  std::vector<change_event> since(uint64_t rev) const;

  size_t size() const noexcept {
    return ring_.size();
  }

  const std::string& source() const noexcept {
    return source_;
  }

  // Operation counters for metrics.
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t refused = 0;

  /// Counters, revision and history size as JSON.
  json metrics() const;

private:
  std::string source_;
  size_t capacity_;
  uint64_t revision_ = 0;
  std::deque<change_record> ring_;
  observer observer_;
};

} // namespace labrt
