// A blocking receive with a deadline on the steady clock (internal).
//
// CAF 0.17 times a blocking receive's `after` by the system clock, so a step
// of the wall clock (NTP, `date -s`, a VM resumed) ends every such wait at
// once. These waits go on until the steady clock says the time is up.
#pragma once

#include <algorithm>
#include <chrono>

#include <caf/after.hpp>

namespace labrt {

/// Calls `receive(timeout)`, a blocking receive that ends with the
/// `caf::after` timeout it is given, until it took a message (true) or the
/// steady clock passed `until` (false).
template <class Receive>
bool receive_until(std::chrono::steady_clock::time_point until,
                   Receive&& receive) {
  using namespace std::chrono;
  for (;;) {
    auto left = ceil<milliseconds>(until - steady_clock::now());
    bool timed_out = false;
    receive(caf::after(std::max(left, milliseconds{0}))
            >> [&] { timed_out = true; });
    if (!timed_out)
      return true;
    if (steady_clock::now() >= until)
      return false;
  }
}

/// The same, waiting up to `limit` from now.
template <class Receive>
bool receive_within(std::chrono::steady_clock::duration limit,
                    Receive&& receive) {
  return receive_until(std::chrono::steady_clock::now() + limit,
                       std::forward<Receive>(receive));
}

} // namespace labrt
