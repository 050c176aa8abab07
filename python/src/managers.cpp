#include "managers.hpp"

#include <string>


#include "convert.hpp"
#include "feeds.hpp"
#include "labrt/types.hpp"

namespace labrt_python {

namespace {

using labrt::json;
using std::string;

/// A call whose answer is JSON, as a Python value.
template <class M, class F>
py::object value_of(M& m, F&& f) {
  return to_py(m.call(std::forward<F>(f)));
}

void bind_entries(py::module_& m) {
  py::class_<labrt::kv_entry>(m, "Entry",
                              "A key's value and revision (0 and None when absent); "
                              "unpacks as (value, revision).")
    .def_readonly("key", &labrt::kv_entry::key)
    .def_property_readonly("value",
                           [](const labrt::kv_entry& e) { return to_py(e.value); })
    .def_readonly("revision", &labrt::kv_entry::revision)
    .def_readonly("exists", &labrt::kv_entry::exists)
    .def("__iter__",
         [](const labrt::kv_entry& e) {
           return py::iter(py::make_tuple(to_py(e.value), e.revision));
         })
    .def("__repr__", [](const labrt::kv_entry& e) {
      return "Entry(key=" + json(e.key).dump() + ", value=" + e.value.dump()
             + ", revision=" + std::to_string(e.revision) + ")";
    });
  py::class_<labrt::kv_snapshot>(m, "Snapshot",
                                 "Every entry of a store at one revision.")
    .def_readonly("revision", &labrt::kv_snapshot::revision)
    .def_readonly("entries", &labrt::kv_snapshot::entries)
    .def("items", [](const labrt::kv_snapshot& s) {
      py::dict result;
      for (auto& e : s.entries)
        result[py::str(e.key)] = to_py(e.value);
      return result;
    });
}

void bind_kv(py::module_& m) {
  auto contains = [](kv_store& s, const string& key) {
    return s.call([&](auto& f) { return f.contains(key); });
  };
  py::class_<kv_store> cls(m, "KvStore",
                           "A kv store (the successor of ThreadSafeDict): every "
                           "call is one message to its actor.");
  cls.def("get",
          [](kv_store& s, const string& key, py::handle fallback) {
            auto dflt = to_json(fallback);
            return value_of(s, [&](auto& f) { return f.get(key, std::move(dflt)); });
          },
          py::arg("key"), py::arg("default") = py::none())
    .def("fetch",
         [](kv_store& s, const string& key) {
           return s.call([&](auto& f) { return f.fetch(key); });
         })
    .def("set",
         [](kv_store& s, const string& key, py::handle value) {
           auto v = to_json(value);
           return s.call([&](auto& f) { return f.set(key, std::move(v)); });
         },
         "Sets a key; returns the store's new revision.")
    .def("set_if",
         [](kv_store& s, const string& key, py::handle value, uint64_t revision) {
           auto v = to_json(value);
           return s.call([&](auto& f) { return f.set_if(key, std::move(v), revision); });
         },
         py::arg("key"), py::arg("value"), py::arg("revision"),
         "Sets a key if its revision is `revision` (0: if absent, "
         "ANY_REVISION: if present); else ConflictError.")
    .def("update",
         [](kv_store& s, py::dict items) {
           auto v = to_json(items);
           return s.call([&](auto& f) { return f.update(std::move(v)); });
         })
    .def("erase",
         [](kv_store& s, const string& key) {
           return s.call([&](auto& f) { return f.erase(key); });
         })
    .def("erase_if",
         [](kv_store& s, const string& key, uint64_t revision) {
           return s.call([&](auto& f) { return f.erase_if(key, revision); });
         })
    .def("merge_patch",
         [](kv_store& s, const string& key, py::handle patch) {
           auto p = to_json(patch);
           return s.call([&](auto& f) { return f.merge_patch(key, std::move(p)); });
         })
    .def("json_patch",
         [](kv_store& s, const string& key, py::handle ops) {
           auto p = to_json(ops);
           return s.call([&](auto& f) { return f.json_patch(key, std::move(p)); });
         })
    .def("patch_if",
         [](kv_store& s, const string& key, py::handle patch, uint64_t revision,
            const string& format) {
           auto p = to_json(patch);
           if (format != "merge" && format != "json")
             throw py::value_error("format is 'merge' or 'json'");
           auto how = format == "merge" ? labrt::patch_format::merge_patch
                                        : labrt::patch_format::json_patch;
           return s.call(
             [&](auto& f) { return f.patch_if(key, std::move(p), how, revision); });
         },
         py::arg("key"), py::arg("patch"), py::arg("revision"),
         py::arg("format") = "merge")
    .def("contains", contains)
    .def("__contains__", contains)
    .def("__len__", [](kv_store& s) { return s.call([](auto& f) { return f.size(); }); })
    .def("keys", [](kv_store& s) { return s.call([](auto& f) { return f.keys(); }); })
    .def("values", [](kv_store& s) { return value_of(s, [](auto& f) { return f.values(); }); })
    .def("items", [](kv_store& s) { return value_of(s, [](auto& f) { return f.items(); }); },
         "Every item, as a dict (a copy).")
    .def("snapshot", [](kv_store& s) { return s.call([](auto& f) { return f.snapshot(); }); })
    .def("clear", [](kv_store& s) { return s.call([](auto& f) { return f.clear(); }); });
  bind_feed_methods<kv_store>(cls);
}

void bind_services(py::module_& m) {
  py::class_<service_status> cls(m, "ServiceStatus",
                                 "Service status entries and the records the "
                                 "monitor keeps (ServiceStatusManager).");
  cls.def("is_service_running",
          [](service_status& s, const string& name) {
            return s.call([&](auto& f) { return f.is_service_running(name); });
          })
    .def("get_status",
         [](service_status& s, const string& entry) {
           return value_of(s, [&](auto& f) { return f.get_status(entry); });
         })
    .def("set_status",
         [](service_status& s, const string& entry, py::handle value) {
           auto v = to_json(value);
           return s.call([&](auto& f) { return f.set_status(entry, std::move(v)); });
         })
    .def("update_status",
         [](service_status& s, py::dict entries) {
           auto v = to_json(entries);
           return s.call([&](auto& f) { return f.update_status(std::move(v)); });
         })
    .def("get_all_status",
         [](service_status& s) {
           return value_of(s, [](auto& f) { return f.get_all_status(); });
         })
    .def("describe",
         [](service_status& s, const string& name) {
           return record(s.call([&](auto& f) { return f.describe(name); }));
         })
    .def("records", [](service_status& s) {
      return records(s.call([](auto& f) { return f.records(); }));
    });
  bind_feed_methods<service_status>(cls);
}

void bind_tests(py::module_& m) {
  py::class_<test_execution> cls(m, "TestExecution",
                                 "The test record and its one-test slot "
                                 "(TestExecutionManager); a second start is refused.");
  cls.def("is_running",
          [](test_execution& t) { return t.call([](auto& f) { return f.is_running(); }); })
    .def("get_field",
         [](test_execution& t, const string& field) {
           return value_of(t, [&](auto& f) { return f.get_field(field); });
         });
  for (auto field : {"pid", "script", "bin", "topology", "topology_file", "start_time"})
    cls.def(("get_" + string{field}).c_str(), [field = string{field}](test_execution& t) {
      return value_of(t, [&](auto& f) { return f.get_field(field); });
    });
  cls
    .def("start_test",
         [](test_execution& t, const string& script, py::handle pid, py::handle extra) {
           auto p = to_json(pid);
           auto x = extra.is_none() ? json::object() : to_json(extra);
           return value_of(t, [&](auto& f) {
             return f.start_test(script, std::move(p), std::move(x));
           });
         },
         py::arg("script"), py::arg("pid"), py::arg("extra") = py::none(),
         "Records a start; AlreadyRunningError while a test runs.")
    .def("stop_test",
         [](test_execution& t) { return value_of(t, [](auto& f) { return f.stop_test(); }); })
    .def("reset",
         [](test_execution& t) { return value_of(t, [](auto& f) { return f.reset(); }); })
    .def("get_state",
         [](test_execution& t) { return value_of(t, [](auto& f) { return f.get_state(); }); })
    .def("update_state", [](test_execution& t, py::dict fields) {
      auto v = to_json(fields);
      return value_of(t, [&](auto& f) { return f.update_state(std::move(v)); });
    });
  bind_feed_methods<test_execution>(cls);
}

} // namespace

void bind_managers(py::module_& m) {
  bind_entries(m);
  bind_kv(m);
  bind_services(m);
  bind_tests(m);
}

} // namespace labrt_python
