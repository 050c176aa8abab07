// JSON values and labrt's records as Python objects, and back.
#pragma once

#include <vector>

#include <pybind11/pybind11.h>

#include "labrt/json.hpp"

namespace labrt_python {

namespace py = pybind11;

/// None, bool, int (64 bits), float, str, list or tuple, and dict with str
/// keys, nested; anything else is a TypeError.
labrt::json to_json(py::handle x);

/// The Python value of a JSON value (objects as dicts, arrays as lists).
py::object to_py(const labrt::json& x);

/// A record through its to_json: a dict.
template <class T>
py::object record(const T& x) {
  labrt::json j = x;
  return to_py(j);
}

/// Records as a list of dicts.
template <class T>
py::list records(const std::vector<T>& xs) {
  py::list result;
  for (auto& x : xs)
    result.append(record(x));
  return result;
}

} // namespace labrt_python
