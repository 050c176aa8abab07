#include "src/scan_pool.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>

#include "src/proc_stat.hpp"

namespace labrt {

scan_pool::scan_pool(size_t threads, size_t capacity, size_t min_split)
  : min_split_(min_split) {
  threads = std::max<size_t>(1, threads);
  for (size_t i = 0; i < threads; ++i)
    caches_.push_back(std::make_unique<proc_cache>(capacity / threads));
  parts_.resize(threads);
}

size_t scan_pool::default_threads() {
  return std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
}

scan_result scan_pool::scan(const rule_set& rules) {
  if (rules.empty())
    return scan_pids(rules, {}, caches_.front().get());
  return scan(rules, list_pids());
}

scan_result scan_pool::scan(
  const rule_set& rules, const std::vector<pid_t>& pids) {
  auto n = caches_.size();
  if (n == 1 || pids.size() < min_split_ || rules.empty()) {
    // A thread costs more than a small pass saves. The other caches saw
    // nothing this pass, so they let go of what they hold.
    for (size_t i = 1; i < n; ++i)
      caches_[i]->end_pass();
    return scan_pids(rules, pids, caches_.front().get());
  }
  auto t0 = std::chrono::steady_clock::now();
  // Before any part reads /proc: the monitor trusts that nothing it saw in
  // this pass happened before `started`.
  auto started = caf::make_timestamp();
  for (auto& part : parts_)
    part.clear();
  for (auto pid : pids)
    parts_[static_cast<size_t>(pid) % n].push_back(pid);
  std::vector<scan_result> results(n);
  std::vector<std::exception_ptr> errors(n);
  auto run = [&](size_t i) noexcept {
    try {
      results[i] = scan_pids(rules, parts_[i], caches_[i].get());
    } catch (...) {
      errors[i] = std::current_exception(); // bad_alloc: the caller's
    }
  };
  {
    std::vector<std::thread> helpers;
    helpers.reserve(n - 1);
    try {
      for (size_t i = 1; i < n; ++i)
        helpers.emplace_back(run, i);
    } catch (...) {
      // No thread to be had (system_error, bad_alloc): the parts without one
      // run here, and the threads already started are still joined below.
    }
    for (size_t i = helpers.size() + 1; i < n; ++i)
      run(i);
    run(0);
    for (auto& t : helpers)
      t.join();
  }
  for (auto& err : errors)
    if (err)
      std::rethrow_exception(err);
  auto result = std::move(results[0]);
  result.started = started;
  for (size_t i = 1; i < n; ++i) {
    result.scanned += results[i].scanned;
    for (size_t s = 0; s < result.services.size(); ++s) {
      auto& into = result.services[s].procs;
      auto& from = results[i].services[s].procs;
      into.insert(into.end(), from.begin(), from.end());
    }
  }
  finish_scan(result, t0);
  return result;
}

size_t scan_pool::open_fds() const noexcept {
  size_t result = 0;
  for (auto& c : caches_)
    result += c->open_fds();
  return result;
}

uint64_t scan_pool::exe_reads() const noexcept {
  uint64_t result = 0;
  for (auto& c : caches_)
    result += c->exe_reads();
  return result;
}

} // namespace labrt
