// The error of the process layer (spawning, capture, run directories, the
// shim): an errc and a message, with nothing of CAF's that needs linking.
// labrt-shim is built from this layer alone, so that each run's start does
// not load libcaf_core and resolve its thousands of relocations. Returned to
// the actors, it converts to caf::error and caf::expected on the way.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include <caf/expected.hpp>

#include "labrt/errc.hpp"

namespace labrt {

/// An errc and its message; code 0 is "no error", as for caf::error.
struct plain_error {
  errc code{};
  std::string message;

  explicit operator bool() const noexcept {
    return code != errc{};
  }

  /// The same error as make_error gives (none for none).
  operator caf::error() const {
    return *this ? make_error(code, message) : caf::error{};
  }

  template <class T>
  operator caf::expected<T>() const {
    return caf::error{*this};
  }
};

/// "code: message", as render(caf::error) writes a labrt error.
std::string render(const plain_error& err);

/// A value or a plain_error: caf::expected for the process layer.
template <class T>
class plain_expected {
public:
  plain_expected(T value) : x_(std::in_place_index<0>, std::move(value)) {}

  plain_expected(plain_error err)
    : x_(std::in_place_index<1>, std::move(err)) {}

  explicit operator bool() const noexcept {
    return x_.index() == 0;
  }

  T& operator*() & {
    return std::get<0>(x_);
  }

  const T& operator*() const& {
    return std::get<0>(x_);
  }

  T&& operator*() && {
    return std::get<0>(std::move(x_));
  }

  T* operator->() {
    return &std::get<0>(x_);
  }

  const T* operator->() const {
    return &std::get<0>(x_);
  }

  const plain_error& error() const {
    return std::get<1>(x_);
  }

  friend bool operator==(const plain_expected& x, const T& y) {
    return x && *x == y;
  }

  operator caf::expected<T>() && {
    if (*this)
      return std::move(**this);
    return caf::error{error()};
  }

private:
  std::variant<T, plain_error> x_;
};

} // namespace labrt
