#include "convert.hpp"

#include <string>

namespace labrt_python {

namespace {

// Deeper than any sane document; a self-containing list would recurse forever.
constexpr int max_depth = 512;

std::string text_of(PyObject* str) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(str, &size);
  if (data == nullptr)
    throw py::error_already_set();
  return std::string(data, static_cast<size_t>(size));
}

labrt::json integer(PyObject* x) {
  int overflow = 0;
  long long value = PyLong_AsLongLongAndOverflow(x, &overflow);
  if (overflow == 0) {
    if (value == -1 && PyErr_Occurred())
      throw py::error_already_set();
    return static_cast<int64_t>(value);
  }
  if (overflow > 0) {
    unsigned long long big = PyLong_AsUnsignedLongLong(x);
    if (!PyErr_Occurred())
      return static_cast<uint64_t>(big);
    PyErr_Clear();
  }
  throw py::value_error("integer out of JSON's 64-bit range");
}

labrt::json convert(PyObject* x, int depth) {
  if (depth > max_depth)
    throw py::value_error("value nested too deeply for JSON");
  if (x == Py_None)
    return nullptr;
  if (PyBool_Check(x))
    return x == Py_True;
  if (PyLong_Check(x))
    return integer(x);
  if (PyFloat_Check(x))
    return PyFloat_AS_DOUBLE(x);
  if (PyUnicode_Check(x))
    return text_of(x);
  if (PyDict_Check(x)) {
    auto result = labrt::json::object();
    PyObject* key = nullptr;
    PyObject* value = nullptr;
    Py_ssize_t pos = 0;
    while (PyDict_Next(x, &pos, &key, &value)) {
      if (!PyUnicode_Check(key))
        throw py::type_error(std::string{"JSON object keys are str, not "}
                             + Py_TYPE(key)->tp_name);
      result[text_of(key)] = convert(value, depth + 1);
    }
    return result;
  }
  if (PyList_Check(x) || PyTuple_Check(x)) {
    auto seq = py::reinterpret_borrow<py::sequence>(x);
    auto result = labrt::json::array();
    for (auto item : seq)
      result.push_back(convert(item.ptr(), depth + 1));
    return result;
  }
  throw py::type_error(std::string{"not a JSON value: "} + Py_TYPE(x)->tp_name);
}

py::object steal(PyObject* x) {
  if (x == nullptr)
    throw py::error_already_set();
  return py::reinterpret_steal<py::object>(x);
}

} // namespace

labrt::json to_json(py::handle x) {
  return convert(x.ptr(), 0);
}

py::object to_py(const labrt::json& x) {
  using t = labrt::json::value_t;
  switch (x.type()) {
    case t::boolean:
      return py::bool_(x.get<bool>());
    case t::number_integer:
      return steal(PyLong_FromLongLong(x.get<int64_t>()));
    case t::number_unsigned:
      return steal(PyLong_FromUnsignedLongLong(x.get<uint64_t>()));
    case t::number_float:
      return steal(PyFloat_FromDouble(x.get<double>()));
    case t::string: {
      auto& text = x.get_ref<const std::string&>();
      return steal(PyUnicode_DecodeUTF8(text.data(),
                                        static_cast<Py_ssize_t>(text.size()),
                                        "surrogateescape"));
    }
    case t::array: {
      py::list result;
      for (auto& item : x)
        result.append(to_py(item));
      return std::move(result);
    }
    case t::object: {
      py::dict result;
      for (auto& [key, value] : x.items())
        result[py::str(key)] = to_py(value);
      return std::move(result);
    }
    default:
      return py::none();
  }
}

} // namespace labrt_python
